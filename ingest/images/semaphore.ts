export interface Semaphore {
  run<T>(task: () => Promise<T>): Promise<T>;
}

/** At most `size` tasks at once; the rest wait in arrival order. */
export function createSemaphore(size: number): Semaphore {
  let free = size;
  const waiting: (() => void)[] = [];
  return {
    async run(task) {
      if (free > 0) free--;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await task();
      } finally {
        const next = waiting.shift();
        if (next) next();
        else free++;
      }
    },
  };
}
