export { TestDriver, type TestDriverOptions } from './driver.js';
export { ManualClock } from '../time/clock.js';
