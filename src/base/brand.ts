/**
 * Branded value types: `Brand<number, 'Vrid'>` is a number the type checker keeps apart
 * from every other number, so a VRID cannot be passed where a priority or a node id is
 * expected. A branded value is made only through its constructor, which checks the range.
 */

declare const brand: unique symbol;

export type Brand<T, B extends string> = T & { readonly [brand]: B };
