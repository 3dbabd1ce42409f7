export declare const ROOT: string;
export declare const SOURCE_DIRS: readonly string[];
export declare function distPaths(root?: string): { dist: string; stamp: string; entry: string };
export declare function newestSourceMtime(root?: string): number;
export declare function compiledIsCurrent(root?: string): boolean;
