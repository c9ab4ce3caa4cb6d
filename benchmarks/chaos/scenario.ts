/** Names shared by the scenarios. */
export type Guarantee = 'at-least-once' | 'exactly-once';

export const guaranteesOf = (option: string): Guarantee[] =>
  option === 'both' ? ['at-least-once', 'exactly-once'] : option === 'exactly-once' || option === 'at-least-once' ? [option] : (() => {
    throw new Error(`--guarantee must be at-least-once, exactly-once or both, got ${option}`);
  })();
