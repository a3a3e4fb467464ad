/*
 * transactional_copier: Kafka's exactly-once read-process-write loop, in C on libeoslog.
 *
 *   transactional_copier <data-dir> <input-topic> <output-topic> <group> <transaction-size>
 *                        [--seed N]
 *
 * It subscribes to the input topic as a member of <group>, consumes read_committed the
 * partitions the group assigns it (all of them: it is the only member), transforms each value
 * (ASCII upper case plus "|copied"), and produces it to the same partition of the output topic
 * inside a transaction that also carries the consumer's positions and its group metadata
 * (send_offsets_to_transaction), so records and offsets commit together or not at all, and only
 * while this consumer still owns the partitions (KIP-447: a member that lost them in a rebalance
 * gets ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID and must abort). One poll per transaction: a
 * rebalance only happens inside a poll, so no rebalance callbacks are needed. After a crash it
 * resumes from the committed offsets: init_transactions fences the previous instance and aborts
 * whatever it left open. It stops once it owns every input partition and each is copied to its
 * end, then checks the output with a read_committed consumer: exactly one copy of every input
 * record.
 *
 * --seed N first writes N records to the input topic (created with 2 partitions) if it does
 * not exist yet, so the example runs on an empty directory.
 *
 * Build (from the repository, after `cargo build -p eoslog-ffi`):
 *   cc -std=c99 -Iinclude examples/c/transactional_copier.c -Ltarget/debug -leoslog \
 *      -Wl,-rpath,$PWD/target/debug -o transactional_copier
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eoslog.h"

/* Runs an eoslog call; on failure prints where and why, and jumps to `done`. */
#define TRY(call)                                                                                 \
  do {                                                                                            \
    eoslog_result rc_ = (call);                                                                   \
    if (rc_ != EOSLOG_RESULT_OK) {                                                                \
      char message_[1024];                                                                        \
      eoslog_last_error_message(message_, sizeof message_);                                       \
      fprintf(stderr, "%s failed: %s (%d): %s\n", #call, eoslog_result_name(rc_), (int)rc_,       \
              message_);                                                                          \
      goto done;                                                                                  \
    }                                                                                             \
  } while (0)

#define MAX_PARTITIONS 64

/* The number of partitions of `topic`, 0 if it does not exist, -1 on error. */
static int partitions_of(const eoslog_engine *engine, const char *topic) {
  eoslog_topic_list *list = NULL;
  int partitions = -1;
  TRY(eoslog_engine_list_topics(engine, false, &list));
  partitions = 0;
  for (size_t i = 0; i < eoslog_topic_list_len(list); i++) {
    eoslog_topic_info info;
    TRY(eoslog_topic_list_get(list, i, &info));
    if (strcmp(info.name, topic) == 0) partitions = info.partitions;
  }
done:
  eoslog_topic_list_free(list);
  return partitions;
}

/* Writes `n` records "record-<i>" (keys "key-<i>") to `topic` with an idempotent producer. */
static int seed(const eoslog_engine *engine, const char *topic, long n) {
  eoslog_producer *producer = NULL;
  int ok = 0;
  TRY(eoslog_engine_create_topic(engine, topic, 2, NULL, 0));
  TRY(eoslog_producer_new(engine, NULL, 0, &producer));
  for (long i = 0; i < n; i++) {
    char key[32], value[32];
    int key_len = snprintf(key, sizeof key, "key-%ld", i);
    int value_len = snprintf(value, sizeof value, "record-%ld", i);
    eoslog_producer_record record = {topic, -1, -1, (const uint8_t *)key, (size_t)key_len,
                                     (const uint8_t *)value, (size_t)value_len, NULL, 0};
    TRY(eoslog_producer_send(producer, &record, NULL));
  }
  TRY(eoslog_producer_flush(producer));
  ok = 1;
done:
  eoslog_producer_free(producer);
  return ok;
}

/* Counts the records of `topic` visible to a read_committed consumer (no group). */
static long count_committed(const eoslog_engine *engine, const char *topic, int partitions) {
  eoslog_config_pair config[] = {{"isolation.level", "read_committed"}, {"auto.offset.reset", "earliest"}};
  eoslog_consumer *consumer = NULL;
  eoslog_message_set *messages = NULL;
  eoslog_topic_partition assigned[MAX_PARTITIONS];
  long count = -1;
  TRY(eoslog_consumer_new(engine, config, 2, &consumer));
  for (int p = 0; p < partitions; p++) assigned[p] = (eoslog_topic_partition){topic, p};
  TRY(eoslog_consumer_assign(consumer, assigned, (size_t)partitions));
  count = 0;
  for (;;) {
    TRY(eoslog_consumer_poll(consumer, 100, &messages));
    size_t n = eoslog_message_set_len(messages);
    eoslog_message_set_free(messages);
    messages = NULL;
    if (n == 0) break;
    count += (long)n;
  }
done:
  eoslog_message_set_free(messages);
  eoslog_consumer_free(consumer);
  return count;
}

int main(int argc, char **argv) {
  if (argc != 6 && !(argc == 8 && strcmp(argv[6], "--seed") == 0)) {
    fprintf(stderr,
            "usage: %s <data-dir> <input-topic> <output-topic> <group> <transaction-size> [--seed N]\n",
            argv[0]);
    return 2;
  }
  const char *dir = argv[1], *input = argv[2], *output = argv[3], *group = argv[4];
  long transaction_size = strtol(argv[5], NULL, 10);
  if (transaction_size <= 0) {
    fprintf(stderr, "the transaction size must be positive\n");
    return 2;
  }

  int status = 1;
  eoslog_engine *engine = NULL;
  eoslog_producer *producer = NULL;
  eoslog_consumer *consumer = NULL;
  eoslog_group_metadata *group_metadata = NULL;
  eoslog_topic_partition_list *assignment = NULL;
  eoslog_message_set *messages = NULL;
  long copied = 0, transactions = 0;

  /* This process is its group's only member (a data directory is opened by one process): the
   * group need not wait group.initial.rebalance.delay.ms (3 s) for others to join. */
  eoslog_config_pair engine_config[] = {{"group.initial.rebalance.delay.ms", "0"}};
  TRY(eoslog_engine_open(dir, engine_config, 1, &engine));
  int partitions = partitions_of(engine, input);
  if (partitions == 0 && argc == 8) {
    if (!seed(engine, input, strtol(argv[7], NULL, 10))) goto done;
    partitions = partitions_of(engine, input);
  }
  if (partitions <= 0 || partitions > MAX_PARTITIONS) {
    fprintf(stderr, "input topic %s: missing or too many partitions\n", input);
    goto done;
  }
  if (partitions_of(engine, output) == 0) TRY(eoslog_engine_create_topic(engine, output, partitions, NULL, 0));

  /* One transactional id per group: a restarted copier fences the previous instance. */
  char transactional_id[256];
  snprintf(transactional_id, sizeof transactional_id, "copier-%s", group);
  eoslog_config_pair producer_config[] = {{"transactional.id", transactional_id}};
  TRY(eoslog_producer_new(engine, producer_config, 1, &producer));
  TRY(eoslog_producer_init_transactions(producer));

  char per_poll[32];
  snprintf(per_poll, sizeof per_poll, "%ld", transaction_size);
  eoslog_config_pair consumer_config[] = {{"group.id", group},
                                          {"isolation.level", "read_committed"},
                                          {"auto.offset.reset", "earliest"},
                                          {"max.poll.records", per_poll}};
  TRY(eoslog_consumer_new(engine, consumer_config, 4, &consumer));
  TRY(eoslog_consumer_subscribe(consumer, &input, 1, NULL));

  for (;;) {
    /* Done once this member owns every input partition and each is copied to its end (the
     * group assigns them at the first polls). */
    eoslog_topic_partition_offset offsets[MAX_PARTITIONS];
    TRY(eoslog_consumer_assignment(consumer, &assignment));
    size_t owned = eoslog_topic_partition_list_len(assignment);
    int finished = owned == (size_t)partitions;
    for (size_t i = 0; i < owned && finished; i++) {
      eoslog_topic_partition tp;
      int64_t position, end;
      TRY(eoslog_topic_partition_list_get(assignment, i, &tp));
      TRY(eoslog_consumer_position(consumer, input, tp.partition, &position));
      TRY(eoslog_consumer_end_offset(consumer, input, tp.partition, &end));
      finished &= position >= end;
    }
    eoslog_topic_partition_list_free(assignment);
    assignment = NULL;
    if (finished) break;

    /* One poll per transaction (max.poll.records = the transaction size). */
    TRY(eoslog_consumer_poll(consumer, 100, &messages));
    size_t n = eoslog_message_set_len(messages);
    if (n == 0) {
      eoslog_message_set_free(messages);
      messages = NULL;
      continue;
    }
    TRY(eoslog_producer_begin_transaction(producer));
    for (size_t i = 0; i < n; i++) {
      eoslog_message m;
      TRY(eoslog_message_set_get(messages, i, &m));
      /* The transformation: ASCII upper case, then "|copied". */
      char value[512];
      size_t len = m.value_len < sizeof value - 8 ? m.value_len : sizeof value - 8;
      for (size_t k = 0; k < len; k++) {
        char c = (char)m.value[k];
        value[k] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
      }
      memcpy(value + len, "|copied", 7);
      eoslog_producer_record out = {output, m.partition, m.timestamp, m.key, m.key_len,
                                    (const uint8_t *)value, len + 7, NULL, 0};
      TRY(eoslog_producer_send(producer, &out, NULL));
    }
    eoslog_message_set_free(messages);
    messages = NULL;

    /* The positions of the partitions this member owns go into the same transaction as the
     * records, with its group metadata as of this poll (member id and generation). */
    TRY(eoslog_consumer_assignment(consumer, &assignment));
    owned = eoslog_topic_partition_list_len(assignment);
    for (size_t i = 0; i < owned; i++) {
      eoslog_topic_partition tp;
      TRY(eoslog_topic_partition_list_get(assignment, i, &tp));
      offsets[i] = (eoslog_topic_partition_offset){input, tp.partition, 0, NULL};
      TRY(eoslog_consumer_position(consumer, input, tp.partition, &offsets[i].offset));
    }
    eoslog_topic_partition_list_free(assignment);
    assignment = NULL;
    TRY(eoslog_consumer_group_metadata(consumer, &group_metadata));
    TRY(eoslog_producer_send_offsets_to_transaction(producer, offsets, owned, group_metadata));
    TRY(eoslog_producer_commit_transaction(producer));
    eoslog_group_metadata_free(group_metadata);
    group_metadata = NULL;
    copied += (long)n;
    transactions++;
  }

  long in = count_committed(engine, input, partitions);
  long out = count_committed(engine, output, partitions);
  printf("copied %ld records in %ld transactions; %s has %ld records, %s has %ld\n", copied, transactions,
         input, in, output, out);
  status = in >= 0 && in == out ? 0 : 1;
  if (status != 0) fprintf(stderr, "the output does not hold exactly one copy of the input\n");

done:
  eoslog_message_set_free(messages);
  eoslog_group_metadata_free(group_metadata);
  eoslog_topic_partition_list_free(assignment);
  eoslog_consumer_free(consumer);
  eoslog_producer_free(producer);
  if (engine != NULL && eoslog_engine_close(engine) != EOSLOG_RESULT_OK) status = 1;
  eoslog_engine_free(engine);
  return status;
}
