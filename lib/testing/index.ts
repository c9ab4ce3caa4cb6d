export { TestDriver, type TestDriverOptions } from './driver.js';
export { recordingContext, type RecordingContext } from './context.js';
export { ManualClock } from '../time/clock.js';
