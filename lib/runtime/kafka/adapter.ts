/**
 * The Kafka client the runtime works with, as one small interface: admin for internal topics and
 * offsets, a (transactional) producer, a group consumer that hands over batches per partition
 * with pause/resume and assignment callbacks, and a reader of one partition (changelog restore).
 * Nothing more, so that another client can stand behind it: `client.ts` implements it on
 * kafkajs (and writes down kafkajs's quirks); the semantics below are Kafka's.
 */
/** A topic partition. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/** A topic partition with an offset (a decimal string, as Kafka offsets exceed 2^53 in theory). */
export interface TopicPartitionOffset extends TopicPartition {
  offset: string;
  /** Offset-commit metadata stored with the offset (the broker keeps up to 4 KiB by default). */
  metadata?: string;
}

/** A record to produce. `partition` overrides the key's partition. */
export interface ProducerRecord {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string>;
  partition?: number;
  /** Epoch ms; default: now. */
  timestamp?: number;
}

/** A consumed record. Repeated headers keep their last value. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
  /** Epoch ms (create or log-append time, as the topic says). */
  timestamp: number;
}

/** A batch of one partition, in offset order. */
export interface ConsumedBatch {
  topic: string;
  partition: number;
  records: ConsumedRecord[];
  /** The partition's high watermark when fetched (its end offset). */
  highWatermark: string;
  /** Marks records up to `offset` as processed, so a rebalance or stop does not redeliver them in this session. */
  resolveOffset(offset: string): void;
  /** Heartbeats the group (long batches must, inside `sessionTimeout`); throws when the group is rebalancing. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping: stop processing, resolve nothing more. */
  isRunning(): boolean;
  /** True when the batch is outdated (a seek or rebalance since the fetch): drop the rest. */
  isStale(): boolean;
  /** Pauses this partition and returns its resume function; the handler should return right after. */
  pause(): () => void;
}

/** Where a send put the records of one topic partition: offsets `baseOffset` … `baseOffset + count − 1`. */
export interface SentBatch {
  topic: string;
  partition: number;
  baseOffset: string;
}

/** Options of {@link KafkaAdapter.readPartition}. */
export interface ReadPartitionOptions {
  /** First offset to read (a decimal string), or `earliest`. */
  from: string;
  /** Last offset wanted (inclusive): reading ends once the partition is consumed up to it. */
  upTo: string;
  /** Keep reading as records arrive (`upTo` is ignored) until this signal aborts: a global table's feed. */
  follow?: AbortSignal;
  /** Skip aborted transactional records (default true). */
  readCommitted?: boolean;
}

/** The committed offset of a partition of a group (`-1` when none). */
export interface PartitionOffset {
  partition: number;
  offset: string;
  /** The metadata committed with the offset, if any. */
  metadata?: string;
}

/** A partition's first and end offsets. */
export interface PartitionWatermarks {
  partition: number;
  low: string;
  high: string;
}

/** A topic to create. */
export interface TopicSpec {
  name: string;
  partitions: number;
  configs?: Record<string, string>;
  replicationFactor?: number;
}

/** An existing topic. */
export interface TopicDescription {
  name: string;
  partitions: Array<{ partition: number; leader: number; replicas: number[] }>;
  /** Its configs (defaults included), e.g. `cleanup.policy`. */
  configs: Record<string, string>;
}

/** Admin operations; connected when returned, disconnect when done. */
export interface KafkaAdmin {
  listTopics(): Promise<string[]>;
  /** Creates the topics that do not exist yet and waits for their leaders; returns the names it created. */
  createTopics(specs: TopicSpec[]): Promise<string[]>;
  /** The named topics that exist (missing ones are left out, never auto-created). */
  describeTopics(names: string[]): Promise<TopicDescription[]>;
  /** Deletes the named topics; missing ones are fine. */
  deleteTopics(names: string[]): Promise<void>;
  /** A group's committed offsets on `topic`, per partition (`-1`: none). */
  fetchOffsets(groupId: string, topic: string): Promise<PartitionOffset[]>;
  /**
   * First and end offsets of every partition of `topic`. `high` is the last stable offset
   * (listed read_committed): where a read_committed restore of a changelog is complete, never
   * behind an open transaction.
   */
  endOffsets(topic: string): Promise<PartitionWatermarks[]>;
  /** Deletes records before the given offsets (repartition topics after their offsets committed). */
  deleteRecords(topic: string, offsets: PartitionOffset[]): Promise<void>;
  /** The member ids of a consumer group, sorted (none: the group is empty or unknown). */
  groupMembers(groupId: string): Promise<string[]>;
  /** Sets a group's committed offsets on `topic` (next to read). Kafka refuses while the group has members. */
  setOffsets(groupId: string, topic: string, offsets: PartitionOffset[]): Promise<void>;
  /**
   * Per partition of `topic`, the first offset whose record timestamp is at or after `timestamp`
   * (epoch ms), or the end offset when no record is that late (Kafka's ListOffsets by time).
   */
  offsetsForTime(topic: string, timestamp: number): Promise<PartitionOffset[]>;
  disconnect(): Promise<void>;
}

/** A transaction of a transactional producer. */
export interface KafkaTransaction {
  /** Sends within the transaction; returns the base offset per topic partition written. */
  send(records: ProducerRecord[]): Promise<SentBatch[]>;
  /** Commits the consumer group's offsets with this transaction (offset = next to read). */
  sendOffsets(args: { groupId: string; offsets: TopicPartitionOffset[] }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface ProducerOptions {
  /**
   * Makes the producer transactional (implies idempotent). One per task: kafkajs has no KIP-447.
   * Getting the producer fences an older producer with the same id and aborts its open transaction.
   */
  transactionalId?: string;
  idempotent?: boolean;
  /** Transaction timeout in ms (default 60 s). */
  transactionTimeout?: number;
}

/** A producer; connected when returned. */
export interface KafkaProducer {
  /** Sends and waits for the acknowledgements of all in-sync replicas; returns the base offset per topic partition written. */
  send(records: ProducerRecord[]): Promise<SentBatch[]>;
  /** Begins a transaction (transactional producers only; one at a time). */
  transaction(): Promise<KafkaTransaction>;
  disconnect(): Promise<void>;
}

export interface ConsumerOptions {
  groupId: string;
  /** Only committed transactional records (default true, as kafkajs). */
  readCommitted?: boolean;
  /** Default 30 s. */
  sessionTimeout?: number;
  /** Default 60 s. */
  rebalanceTimeout?: number;
  /** Default 3 s. */
  heartbeatInterval?: number;
  /** How long the broker may hold a fetch without data; default 500 ms. */
  maxWaitTimeInMs?: number;
  /** Bytes per partition per fetch; default 1 MiB. */
  maxBytesPerPartition?: number;
}

/** A group consumer; connected when returned. */
export interface KafkaConsumer {
  /** Before `run`. `fromBeginning` applies to partitions the group has no offset for. */
  subscribe(topics: string[], options?: { fromBeginning?: boolean }): Promise<void>;
  /** Starts fetching; batches of one partition arrive one at a time. Resolves once started. */
  run(handlers: { eachBatch(batch: ConsumedBatch): Promise<void> }): Promise<void>;
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  paused(): TopicPartition[];
  /** The partitions assigned at the last join. */
  assignment(): TopicPartition[];
  /** Called after each join with the newly assigned partitions (not the ones kept). */
  onAssign(listener: (partitions: TopicPartition[]) => void): void;
  /** Called with partitions of the previous assignment that a join took away, and with all of them on disconnect. */
  onRevoke(listener: (partitions: TopicPartition[]) => void): void;
  /** Called when the consumer crashed and will not restart by itself. */
  onCrash(listener: (error: Error) => void): void;
  /** Commits offsets (next to read) for the group. */
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  /** Rewinds a partition (e.g. to reprocess after a failed transaction). */
  seek(offset: TopicPartitionOffset): void;
  disconnect(): Promise<void>;
}

/** The client the Kafka runner works with. */
export interface KafkaAdapter {
  admin(): Promise<KafkaAdmin>;
  producer(options?: ProducerOptions): Promise<KafkaProducer>;
  consumer(options: ConsumerOptions): Promise<KafkaConsumer>;
  /**
   * The records of one partition from `from` up to `upTo`, in offset order, outside any
   * consumer group's offsets (Java's `assign` + `seek`): what a task reads to restore a store
   * from its changelog. Ends when the consumer's position passes `upTo`, transaction markers
   * and compacted-away offsets included.
   */
  readPartition(topic: string, partition: number, options: ReadPartitionOptions): AsyncIterable<ConsumedRecord>;
}
