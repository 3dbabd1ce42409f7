import { type Static, Type } from '@sinclair/typebox';
import { envelope } from './envelope.ts';

/** A byline's full state: every byline event carries it whole, so a fold is "last one wins". */
export const BylineFields = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 300 }),
    bio: Type.Optional(Type.String({ maxLength: 10_000 })),
  },
  { additionalProperties: false },
);
export type BylineFields = Static<typeof BylineFields>;

export const BylineRegistered = envelope('BylineRegistered', 1, 'byline', BylineFields);
export type BylineRegistered = Static<typeof BylineRegistered>;

export const BylineUpdated = envelope('BylineUpdated', 1, 'byline', BylineFields);
export type BylineUpdated = Static<typeof BylineUpdated>;
