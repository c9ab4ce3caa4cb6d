package bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorSupplier;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.WindowStore;
import org.apache.kafka.streams.state.WindowStoreIterator;

/**
 * The Kafka Streams side of Tributary's streams-compare benchmark: one application, one stream
 * thread, at-least-once, default RocksDB stores, event time from the events' {@code timestamp},
 * running one workload over the JSON events of {@code tributary generate}:
 *
 * <ul>
 *   <li>{@code dedupe}: drop an event whose messageId was first seen at most 24h (event time)
 *       before or after it, with the window-store deduplication processor of Confluent's
 *       examples; the events that pass go to the events topic.
 *   <li>{@code sessions}: re-key by the session key (the first of userId, anonymousId that is
 *       set), repartition, write the events to the events topic and count them per session
 *       window (30m inactivity gap, 1m grace); one final record per closed session goes to the
 *       sessions topic ({@code suppress(untilWindowCloses)}).
 *   <li>{@code chain}: dedupe, then the sessions workload.
 * </ul>
 *
 * System properties: {@code bench.graceMs} (default 60000), {@code bench.emit} ({@code final},
 * or {@code updates}: every cached update of a session window instead of final results),
 * {@code bench.commitMs} (commit.interval.ms, default 100).
 *
 * It prints {@code READY} once the application is RUNNING (tasks assigned and open), stops by
 * itself once the group has committed the source topic's end offsets (as they were at start)
 * and every repartition topic's end offsets (so every output is flushed), closes, prints
 * {@code RESULT <json>} and then waits for its standard input to close, so that whoever started
 * it can read its /proc figures while it is still there.
 */
public final class StreamsBench {
  static final Duration TTL = Duration.ofHours(24);
  static final Duration GAP = Duration.ofMinutes(30);
  /** Tributary's allowedLateness; -Dbench.graceMs=… for a run that drops nothing (see sessions()). */
  static final Duration GRACE = Duration.ofMillis(Long.getLong("bench.graceMs", 60_000L));
  /** {@code final}: one record per closed session (suppress); {@code updates}: every cached update, a merged-away session as count null. */
  static final String EMIT = System.getProperty("bench.emit", "final");
  static final String DEDUPE_STORE = "dedupe-seen";
  static final ObjectMapper JSON = new ObjectMapper();

  static final AtomicLong consumed = new AtomicLong();
  static final AtomicLong duplicates = new AtomicLong();

  private StreamsBench() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 8) {
      System.err.println("usage: java -jar streams-bench.jar <dedupe|sessions|chain> <brokers> <input topic> <events> <application id> <state dir> <events topic> <sessions topic>");
      System.exit(2);
    }
    String workload = args[0];
    String brokers = args[1];
    String input = args[2];
    long events = Long.parseLong(args[3]);
    String appId = args[4];
    String stateDir = args[5];
    String eventsTopic = args[6];
    String sessionsTopic = args[7];

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    // The default at-least-once interval is 30 s; Tributary commits after every fetched batch
    // and at least every second, which on this input is about ten times a second.
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Integer.getInteger("bench.commitMs", 100));
    props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");

    Topology topology = build(workload, input, eventsTopic, sessionsTopic);
    Map<TopicPartition, Long> sourceEnd;
    try (Admin admin = admin(brokers)) {
      sourceEnd = endOffsets(admin, input);
    }
    long total = sourceEnd.values().stream().mapToLong(Long::longValue).sum();
    if (total != events) {
      System.err.printf("streams-bench: topic %s holds %d records, expected %d (produce the input first)%n", input, total, events);
      System.exit(1);
    }

    KafkaStreams streams = new KafkaStreams(topology, props);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    streams.setUncaughtExceptionHandler(e -> {
      failure.set(e);
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    long[] readyAt = {0};
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING && readyAt[0] == 0) {
        readyAt[0] = System.nanoTime();
        System.out.println("READY");
        System.out.flush();
      }
    });
    long t0 = System.nanoTime();
    streams.start();
    try (Admin admin = admin(brokers)) {
      while (!caughtUp(admin, appId, sourceEnd)) {
        if (failure.get() != null || streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.NOT_RUNNING) {
          System.err.println("streams-bench: the application failed: " + failure.get());
          streams.close(Duration.ofSeconds(10));
          System.exit(1);
        }
        Thread.sleep(50);
      }
    }
    long done = System.nanoTime();
    double dropped = metricSum(streams.metrics(), "dropped-records-total", "stream-task-metrics");
    streams.close(Duration.ofSeconds(60));

    ObjectNode result = JSON.createObjectNode();
    result.put("workload", workload);
    result.put("events", consumed.get());
    result.put("duplicates", duplicates.get());
    result.put("droppedRecords", (long) dropped);
    result.put("seconds", (done - readyAt[0]) / 1e9);
    result.put("startToDoneSeconds", (done - t0) / 1e9);
    System.out.println("RESULT " + JSON.writeValueAsString(result));
    System.out.flush();
    InputStream in = System.in;
    while (in.read() >= 0) {
      // hold until the parent has read this process's figures
    }
    System.exit(0);
  }

  static Topology build(String workload, String input, String eventsTopic, String sessionsTopic) {
    StreamsBuilder builder = new StreamsBuilder();
    Serde<JsonNode> json = Serdes.serdeFrom(new JsonSerializer(), new JsonDeserializer());
    KStream<String, JsonNode> source = builder
        .stream(input, Consumed.with(Serdes.String(), json).withTimestampExtractor(new EventTime()))
        .peek((k, v) -> consumed.incrementAndGet());
    switch (workload) {
      case "dedupe" -> dedupe(source).to(eventsTopic, Produced.with(Serdes.String(), json));
      case "sessions" -> sessions(source, json, eventsTopic, sessionsTopic);
      case "chain" -> sessions(dedupe(source), json, eventsTopic, sessionsTopic);
      default -> throw new IllegalArgumentException("unknown workload " + workload + " (dedupe, sessions or chain)");
    }
    return builder.build();
  }

  static KStream<String, JsonNode> dedupe(KStream<String, JsonNode> events) {
    return events.processValues(new Dedupe(), DEDUPE_STORE);
  }

  static void sessions(KStream<String, JsonNode> events, Serde<JsonNode> json, String eventsTopic, String sessionsTopic) {
    KStream<String, JsonNode> byKey = events
        .selectKey((k, v) -> sessionKey(v))
        .repartition(Repartitioned.<String, JsonNode>as("by-session-key").withKeySerde(Serdes.String()).withValueSerde(json));
    byKey.to(eventsTopic, Produced.with(Serdes.String(), json));
    KTable<Windowed<String>, Long> counts = byKey.groupByKey()
        .windowedBy(SessionWindows.ofInactivityGapAndGrace(GAP, GRACE))
        .count(Materialized.as("session-counts"));
    if (EMIT.equals("final")) counts = counts.suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()));
    counts.toStream()
        .map((w, count) -> {
          ObjectNode s = JSON.createObjectNode();
          s.put("key", w.key());
          s.put("start", w.window().start());
          s.put("end", w.window().end());
          s.put("count", count);
          return KeyValue.pair(w.key(), (JsonNode) s);
        })
        .to(sessionsTopic, Produced.with(Serdes.String(), json));
  }

  /** The first of userId, anonymousId that is a non-empty string, a number or a boolean (as Tributary's resolveKey). */
  static String sessionKey(JsonNode event) {
    for (String field : List.of("userId", "anonymousId")) {
      JsonNode v = event.get(field);
      if (v == null) continue;
      if (v.isTextual() && !v.textValue().isEmpty()) return v.textValue();
      if (v.isNumber() || v.isBoolean()) return v.asText();
    }
    return null; // groupByKey drops records with a null key
  }

  /**
   * Confluent's event-deduplication processor (kafka-streams-examples, "finding distinct
   * events"), with Tributary's rule: an event is a duplicate when its id was first seen at most
   * the ttl before or after it; a duplicate does not move the first sighting.
   */
  static final class Dedupe implements FixedKeyProcessorSupplier<String, JsonNode, JsonNode> {
    @Override
    public FixedKeyProcessor<String, JsonNode, JsonNode> get() {
      return new FixedKeyProcessor<>() {
        private FixedKeyProcessorContext<String, JsonNode> context;
        private WindowStore<String, Long> seen;

        @Override
        public void init(FixedKeyProcessorContext<String, JsonNode> context) {
          this.context = context;
          this.seen = context.getStateStore(DEDUPE_STORE);
        }

        @Override
        public void process(FixedKeyRecord<String, JsonNode> record) {
          JsonNode idNode = record.value().get("messageId");
          if (idNode == null || idNode.isNull()) {
            context.forward(record);
            return;
          }
          String id = idNode.asText();
          long t = record.timestamp();
          boolean duplicate;
          try (WindowStoreIterator<Long> it = seen.fetch(id, t - TTL.toMillis(), t + TTL.toMillis())) {
            duplicate = it.hasNext();
          }
          if (duplicate) {
            duplicates.incrementAndGet();
            return;
          }
          seen.put(id, t, t);
          context.forward(record);
        }
      };
    }

    @Override
    public Set<StoreBuilder<?>> stores() {
      // Window size = retention = ttl: a first sighting is kept for a ttl of stream time.
      return Set.of(Stores.windowStoreBuilder(
          Stores.persistentWindowStore(DEDUPE_STORE, TTL, TTL, false), Serdes.String(), Serdes.Long()));
    }
  }

  /** Event time: the event's `timestamp`, epoch ms or an ISO-8601 string. */
  static final class EventTime implements TimestampExtractor {
    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
      if (record.value() instanceof JsonNode event) {
        JsonNode ts = event.get("timestamp");
        if (ts != null && ts.isNumber()) return ts.asLong();
        if (ts != null && ts.isTextual()) {
          try {
            return Instant.parse(ts.textValue()).toEpochMilli();
          } catch (DateTimeParseException e) {
            return -1; // an invalid timestamp: the record is skipped (and logged) by Kafka Streams
          }
        }
      }
      return -1;
    }
  }

  static final class JsonSerializer implements Serializer<JsonNode> {
    @Override
    public byte[] serialize(String topic, JsonNode data) {
      try {
        return data == null ? null : JSON.writeValueAsBytes(data);
      } catch (IOException e) {
        throw new org.apache.kafka.common.errors.SerializationException(e);
      }
    }
  }

  static final class JsonDeserializer implements Deserializer<JsonNode> {
    @Override
    public JsonNode deserialize(String topic, byte[] data) {
      try {
        return data == null ? null : JSON.readTree(data);
      } catch (IOException e) {
        throw new org.apache.kafka.common.errors.SerializationException(e);
      }
    }
  }

  static Admin admin(String brokers) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    return Admin.create(p);
  }

  static Map<TopicPartition, Long> endOffsets(Admin admin, String topic) throws ExecutionException, InterruptedException {
    int partitions = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
    Map<TopicPartition, OffsetSpec> request = new HashMap<>();
    for (int p = 0; p < partitions; p++) request.put(new TopicPartition(topic, p), OffsetSpec.latest());
    return endOffsets(admin, request);
  }

  static Map<TopicPartition, Long> endOffsets(Admin admin, Map<TopicPartition, OffsetSpec> request) throws ExecutionException, InterruptedException {
    Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> r = admin.listOffsets(request).all().get();
    return r.entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
  }

  /**
   * True once the group has committed the source's end offsets and, after that, the end offsets
   * of every repartition topic it reads. Kafka Streams commits an input offset only after its
   * producer flushed what that input produced, so nothing is left in flight then.
   */
  static boolean caughtUp(Admin admin, String group, Map<TopicPartition, Long> sourceEnd) throws ExecutionException, InterruptedException {
    Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
    for (Map.Entry<TopicPartition, Long> e : sourceEnd.entrySet()) {
      OffsetAndMetadata c = committed.get(e.getKey());
      if (e.getValue() > 0 && (c == null || c.offset() < e.getValue())) return false;
    }
    Set<String> repartition = admin.listTopics().names().get().stream()
        .filter(t -> t.startsWith(group + "-") && t.endsWith("-repartition")).collect(Collectors.toSet());
    if (repartition.isEmpty()) return true;
    Map<TopicPartition, OffsetSpec> request = new HashMap<>();
    admin.describeTopics(repartition).allTopicNames().get().forEach((name, d) ->
        d.partitions().forEach(p -> request.put(new TopicPartition(name, p.partition()), OffsetSpec.latest())));
    for (Map.Entry<TopicPartition, Long> e : endOffsets(admin, request).entrySet()) {
      OffsetAndMetadata c = committed.get(e.getKey());
      if (e.getValue() > 0 && (c == null || c.offset() < e.getValue())) return false;
    }
    return true;
  }

  static double metricSum(Map<MetricName, ? extends Metric> metrics, String name, String group) {
    double sum = 0;
    for (Map.Entry<MetricName, ? extends Metric> e : metrics.entrySet()) {
      if (e.getKey().name().equals(name) && e.getKey().group().equals(group) && e.getValue().metricValue() instanceof Number n) {
        sum += n.doubleValue();
      }
    }
    return sum;
  }
}
