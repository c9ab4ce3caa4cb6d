export { TestDriver, type TestDriverOptions } from './driver.js';
export { recordingContext, type RecordingContext } from './context.js';
export { ManualClock } from '../time/clock.js';
export {
  createMemoryKafka,
  MemoryBroker,
  MemoryKafkaError,
  type MemoryKafka,
  type MemoryBrokerOptions,
  type Fault,
  type FaultOp,
  type FaultOptions,
} from '../runtime/kafka/memory/index.js';
