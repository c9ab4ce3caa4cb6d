/**
 * The product catalogue of the generated shop: categories with their prices, weights and
 * search terms, and the products drawn from them (ids, category, price, Zipf popularity).
 */
import { Random, WeightedTable, hash32 } from './random.js';

export const CATEGORIES = [
  'electronics', 'computers', 'appliances', 'apparel', 'shoes', 'beauty',
  'home', 'kitchen', 'sports', 'toys', 'books', 'grocery',
] as const;
/** Median price per category (same order as CATEGORIES). */
export const CATEGORY_PRICE = [180, 650, 320, 35, 70, 22, 45, 30, 55, 25, 14, 6];
export const CATEGORY_WEIGHT = [12, 6, 5, 14, 8, 9, 10, 8, 7, 6, 8, 7];
export const SEARCH_TERMS: readonly (readonly string[])[] = [
  ['headphones', 'smartphone', 'tv', 'camera'], ['laptop', 'monitor', 'keyboard'],
  ['washing machine', 'fridge', 'vacuum'], ['jacket', 'dress', 't-shirt', 'jeans'],
  ['sneakers', 'boots', 'sandals'], ['perfume', 'lipstick', 'shampoo'],
  ['lamp', 'rug', 'pillow'], ['coffee maker', 'knife set', 'pan'],
  ['yoga mat', 'bike', 'dumbbells'], ['lego', 'puzzle', 'doll'],
  ['novel', 'cookbook', 'comics'], ['coffee', 'tea', 'chocolate'],
];

/** The products, indexed by popularity rank. */
export interface Catalogue {
  readonly productIds: string[];
  readonly productCategory: Uint8Array;
  readonly productPrice: Float64Array;
  /** Products of each category, by popularity rank. */
  readonly byCategory: number[][];
  readonly categoryTable: WeightedTable;
  /** Popularity: Zipf(1.07) over ranks. */
  readonly popularity: WeightedTable;
}

/** Draws `nProducts` products from `rng` (the first draws of a run). */
export function buildCatalogue(rng: Random, seed: number, nProducts: number): Catalogue {
  const productIds: string[] = new Array<string>(nProducts);
  const productCategory = new Uint8Array(nProducts);
  const productPrice = new Float64Array(nProducts);
  const byCategory: number[][] = CATEGORIES.map(() => []);
  const categoryTable = new WeightedTable(CATEGORY_WEIGHT);
  for (let p = 0; p < nProducts; p++) {
    productIds[p] = `p-${100000 + (hash32(seed, 'product', p) % 900000)}${p.toString(36)}`;
    const cat = categoryTable.sample(rng);
    productCategory[p] = cat;
    productPrice[p] = Math.max(99, Math.round(rng.logNormal(CATEGORY_PRICE[cat] as number, 0.6) * 100) - 1) / 100; // whole cents, ≥ 0.99
    (byCategory[cat] as number[]).push(p);
  }
  const popularity = WeightedTable.zipf(nProducts, 1.07);
  return { productIds, productCategory, productPrice, byCategory, categoryTable, popularity };
}
