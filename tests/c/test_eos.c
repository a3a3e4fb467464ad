/*
 * Exactly-once through the C ABI: the idempotent producer (send, delivery handles, send_sync),
 * the transactional producer (init, begin, send, send offsets, commit, abort), fencing of a
 * zombie with the same transactional id, read_committed vs read_uncommitted consumers, message
 * transaction coordinates, committed offsets, seeks, and the broker-style produce call.
 */
#include "check.h"

#include <time.h>

static eoslog_producer_record record(const char *topic, int32_t partition, const char *key, const char *value) {
  eoslog_producer_record r;
  memset(&r, 0, sizeof r);
  r.topic = topic;
  r.partition = partition;
  r.timestamp = -1;
  r.key = (const uint8_t *)key;
  r.key_len = key ? strlen(key) : 0;
  r.value = (const uint8_t *)value;
  r.value_len = value ? strlen(value) : 0;
  return r;
}

static eoslog_consumer *consumer(eoslog_engine *engine, const char *group, const char *isolation) {
  eoslog_config_pair config[] = {
      {"group.id", group}, {"isolation.level", isolation}, {"auto.offset.reset", "earliest"}};
  eoslog_consumer *c = NULL;
  CHECK_OK(eoslog_consumer_new(engine, config, 3, &c));
  eoslog_topic_partition tp = {"events", 0};
  CHECK_OK(eoslog_consumer_assign(c, &tp, 1));
  return c;
}

/* Polls until a poll returns nothing; returns how many messages arrived and copies the first
 * `max` values into `values`. */
static int poll_all(eoslog_consumer *c, char values[][32], int max) {
  int n = 0;
  for (;;) {
    eoslog_message_set *set = NULL;
    CHECK_OK(eoslog_consumer_poll(c, 200, &set));
    size_t len = eoslog_message_set_len(set);
    for (size_t i = 0; i < len; i++) {
      eoslog_message m;
      CHECK_OK(eoslog_message_set_get(set, i, &m));
      CHECK(strcmp(m.topic, "events") == 0 && m.partition == 0);
      if (n < max) {
        snprintf(values[n], 32, "%.*s", (int)m.value_len, (const char *)m.value);
      }
      n++;
    }
    CHECK_OK(eoslog_message_set_free(set));
    if (len == 0) return n;
  }
}

static void idempotent_producer(eoslog_engine *engine) {
  eoslog_producer *p = NULL;
  eoslog_config_pair config[] = {{"linger.ms", "0"}};
  CHECK_OK(eoslog_producer_new(engine, config, 1, &p));
  int64_t pid;
  int16_t epoch;
  CHECK_OK(eoslog_producer_get_id(p, &pid, &epoch));
  CHECK(pid >= 0 && epoch == 0);

  eoslog_producer_record r = record("events", 0, "k", "plain-1");
  eoslog_header h = {(const uint8_t *)"origin", 6, NULL, 0}; /* a null header value */
  r.headers = &h;
  r.headers_len = 1;
  /* Now, to the millisecond: a timestamp older than segment.ms (7 days) would roll a segment,
   * and a read returns batches from one segment only. */
  int64_t now_ms = (int64_t)time(NULL) * 1000;
  r.timestamp = now_ms;
  eoslog_record_metadata md;
  CHECK_OK(eoslog_producer_send_sync(p, &r, &md));
  CHECK(md.partition == 0 && md.offset == 0 && md.timestamp == now_ms);

  eoslog_delivery *d = NULL;
  eoslog_producer_record r2 = record("events", 0, NULL, "plain-2");
  CHECK_OK(eoslog_producer_send(p, &r2, &d));
  CHECK_OK(eoslog_producer_flush(p));
  CHECK(eoslog_delivery_is_done(d));
  CHECK_OK(eoslog_delivery_wait(d, &md));
  CHECK(md.offset == 1);
  CHECK_OK(eoslog_delivery_free(d));
  /* Fire and forget: no delivery handle. */
  eoslog_producer_record r3 = record("events", -1, "key-3", "plain-3");
  CHECK_OK(eoslog_producer_send(p, &r3, NULL));
  CHECK_OK(eoslog_producer_close(p));
  CHECK_RC(eoslog_producer_send(p, &r3, NULL), EOSLOG_RESULT_INVALID_REQUEST);
  CHECK_OK(eoslog_producer_free(p));

  /* The transaction coordinates of an idempotent record. (A poll may return fewer records
   * than are readable: poll until one comes back empty.) */
  eoslog_consumer *c = consumer(engine, "readers", "read_committed");
  eoslog_message_set *set = NULL;
  int total = 0;
  for (;;) {
    CHECK_OK(eoslog_consumer_poll(c, 200, &set));
    size_t len = eoslog_message_set_len(set);
    for (size_t i = 0; i < len; i++) {
      eoslog_message m;
      CHECK_OK(eoslog_message_set_get(set, i, &m));
      CHECK(m.offset == total && m.producer_id == pid && m.producer_epoch == 0 && m.sequence == total);
      CHECK(!m.is_transactional && m.timestamp_type == EOSLOG_TIMESTAMP_CREATE_TIME);
      if (m.offset == 0) {
        CHECK(m.timestamp == now_ms && m.key_len == 1 && m.key[0] == 'k' && m.headers_len == 1);
        eoslog_header got;
        CHECK_OK(eoslog_message_set_get_header(set, i, 0, &got));
        CHECK(got.key_len == 6 && memcmp(got.key, "origin", 6) == 0 && got.value == NULL);
        CHECK_RC(eoslog_message_set_get_header(set, i, 1, &got), EOSLOG_RESULT_INVALID_ARGUMENT);
      }
      if (m.offset == 1) CHECK(m.key == NULL && m.key_len == 0 && m.value_len == 7);
      total++;
    }
    if (len == 0) CHECK_RC(eoslog_message_set_get(set, 0, &(eoslog_message){0}), EOSLOG_RESULT_INVALID_ARGUMENT);
    CHECK_OK(eoslog_message_set_free(set));
    if (len == 0) break;
  }
  CHECK(total == 3);

  /* Commit positions, read them back, seek. */
  CHECK_OK(eoslog_consumer_commit(c, NULL, 0));
  int64_t committed = 0, position = 0, end = 0;
  CHECK_OK(eoslog_consumer_committed(c, "events", 0, &committed));
  CHECK(committed == 3);
  CHECK_OK(eoslog_consumer_position(c, "events", 0, &position));
  CHECK(position == 3);
  CHECK_OK(eoslog_consumer_end_offset(c, "events", 0, &end));
  CHECK(end == 3);
  eoslog_topic_partition_offset explicit_offset = {"events", 0, 1, "manual"};
  CHECK_OK(eoslog_consumer_commit(c, &explicit_offset, 1));
  CHECK_OK(eoslog_consumer_committed(c, "events", 0, &committed));
  CHECK(committed == 1);
  CHECK_OK(eoslog_consumer_seek(c, "events", 0, 2));
  CHECK_OK(eoslog_consumer_poll(c, 1000, &set));
  CHECK(eoslog_message_set_len(set) == 1);
  eoslog_message last;
  CHECK_OK(eoslog_message_set_get(set, 0, &last));
  CHECK(last.offset == 2 && last.value_len == 7 && memcmp(last.value, "plain-3", 7) == 0);
  CHECK_OK(eoslog_message_set_free(set));
  CHECK_OK(eoslog_consumer_seek_to_beginning(c, NULL, 0));
  CHECK_OK(eoslog_consumer_position(c, "events", 0, &position));
  CHECK(position == 0);
  CHECK_RC(eoslog_consumer_seek(c, "other", 0, 0), EOSLOG_RESULT_INVALID_REQUEST);
  CHECK_RC(eoslog_consumer_seek(c, "events", 0, -5), EOSLOG_RESULT_INVALID_REQUEST);
  CHECK_OK(eoslog_consumer_close(c));
  CHECK_OK(eoslog_consumer_free(c));

  /* A consumer without group.id cannot commit. */
  eoslog_consumer *anonymous = NULL;
  CHECK_OK(eoslog_consumer_new(engine, NULL, 0, &anonymous));
  CHECK_RC(eoslog_consumer_commit(anonymous, NULL, 0), EOSLOG_RESULT_INVALID_GROUP_ID);
  eoslog_group_metadata *gm = NULL;
  CHECK_RC(eoslog_consumer_group_metadata(anonymous, &gm), EOSLOG_RESULT_INVALID_GROUP_ID);
  CHECK_OK(eoslog_consumer_free(anonymous));
}

static void transactions(eoslog_engine *engine) {
  eoslog_config_pair config[] = {{"transactional.id", "c-txn"}, {"linger.ms", "0"}};
  eoslog_producer *p = NULL;
  CHECK_OK(eoslog_producer_new(engine, config, 2, &p));
  eoslog_producer_record r = record("events", 0, NULL, "x");
  /* Not initialised, no transaction: refused. */
  CHECK_RC(eoslog_producer_begin_transaction(p), EOSLOG_RESULT_INVALID_TXN_STATE);
  CHECK_OK(eoslog_producer_init_transactions(p));
  CHECK_RC(eoslog_producer_send(p, &r, NULL), EOSLOG_RESULT_INVALID_TXN_STATE);

  eoslog_consumer *committed_reader = consumer(engine, "copier-group", "read_committed");
  eoslog_consumer *dirty_reader = consumer(engine, "dirty", "read_uncommitted");
  char values[16][32];
  CHECK(poll_all(committed_reader, values, 16) == 3); /* the idempotent records */
  CHECK(poll_all(dirty_reader, values, 16) == 3);

  /* An aborted transaction is never visible under read_committed. */
  CHECK_OK(eoslog_producer_begin_transaction(p));
  eoslog_producer_record a1 = record("events", 0, NULL, "aborted-1");
  eoslog_producer_record a2 = record("events", 0, NULL, "aborted-2");
  CHECK_OK(eoslog_producer_send(p, &a1, NULL));
  CHECK_OK(eoslog_producer_send(p, &a2, NULL));
  CHECK_OK(eoslog_producer_flush(p));
  /* While open: read_uncommitted sees the records, read_committed does not (LSO). */
  CHECK(poll_all(dirty_reader, values, 16) == 2);
  CHECK(poll_all(committed_reader, values, 16) == 0);
  CHECK_OK(eoslog_producer_abort_transaction(p));
  CHECK(poll_all(committed_reader, values, 16) == 0);

  /* A committed transaction with offsets: visible, and the offsets commit with it. */
  CHECK_OK(eoslog_producer_begin_transaction(p));
  eoslog_producer_record c1 = record("events", 0, NULL, "committed-1");
  eoslog_producer_record c2 = record("events", 0, NULL, "committed-2");
  CHECK_OK(eoslog_producer_send(p, &c1, NULL));
  CHECK_OK(eoslog_producer_send(p, &c2, NULL));
  eoslog_group_metadata *gm = NULL;
  CHECK_OK(eoslog_consumer_group_metadata(committed_reader, &gm));
  eoslog_group_metadata_info gi;
  CHECK_OK(eoslog_group_metadata_get_info(gm, &gi));
  CHECK(strcmp(gi.group_id, "copier-group") == 0 && gi.generation_id == -1 && gi.group_instance_id == NULL);
  eoslog_topic_partition_offset offsets = {"events", 0, 3, NULL};
  CHECK_OK(eoslog_producer_send_offsets_to_transaction(p, &offsets, 1, gm));
  /* Not committed until the transaction commits. (A read_committed consumer would wait for
   * the pending commit: look with a read_uncommitted one of the same group.) */
  eoslog_consumer *peek = consumer(engine, "copier-group", "read_uncommitted");
  int64_t committed = 0;
  CHECK_OK(eoslog_consumer_committed(peek, "events", 0, &committed));
  CHECK(committed == -1);
  CHECK_OK(eoslog_consumer_free(peek));
  CHECK_OK(eoslog_producer_commit_transaction(p));
  CHECK_OK(eoslog_consumer_committed(committed_reader, "events", 0, &committed));
  CHECK(committed == 3);
  CHECK(poll_all(committed_reader, values, 16) == 2);
  CHECK(strcmp(values[0], "committed-1") == 0 && strcmp(values[1], "committed-2") == 0);

  /* The partition's aborted-transaction index, as a raw read_committed fetch reports it. */
  eoslog_partition *part = NULL;
  CHECK_OK(eoslog_partition_open(engine, "events", 0, &part));
  eoslog_fetch *fetch = NULL;
  CHECK_OK(eoslog_partition_read(part, 0, 1 << 20, EOSLOG_ISOLATION_READ_COMMITTED, &fetch));
  eoslog_fetch_info fi;
  CHECK_OK(eoslog_fetch_get_info(fetch, &fi));
  CHECK(fi.has_aborted_transactions && fi.aborted_transactions_len == 1);
  eoslog_aborted_transaction at;
  CHECK_OK(eoslog_fetch_get_aborted_transaction(fetch, 0, &at));
  CHECK(at.first_offset == 3);
  int64_t pid;
  int16_t epoch;
  CHECK_OK(eoslog_producer_get_id(p, &pid, &epoch));
  CHECK(at.producer_id == pid);
  /* Markers are control batches in the raw view: ABORT then COMMIT. */
  eoslog_batch_iter *it = NULL;
  CHECK_OK(eoslog_fetch_batches(fetch, &it));
  eoslog_batch_info b;
  int aborts = 0, commits = 0, transactional = 0;
  while (eoslog_batch_iter_next(it, &b) == EOSLOG_RESULT_OK) {
    transactional += b.is_transactional && !b.is_control;
    aborts += b.control_type == 0;
    commits += b.control_type == 1;
  }
  CHECK(aborts == 1 && commits == 1 && transactional >= 2);
  CHECK_OK(eoslog_batch_iter_free(it));
  CHECK_OK(eoslog_fetch_free(fetch));
  CHECK_OK(eoslog_partition_free(part));

  /* Fencing: a new producer with the same transactional id fences the old one. */
  eoslog_producer *successor = NULL;
  CHECK_OK(eoslog_producer_new(engine, config, 2, &successor));
  CHECK_OK(eoslog_producer_init_transactions(successor));
  eoslog_result rc = eoslog_producer_begin_transaction(p);
  if (rc == EOSLOG_RESULT_OK) {
    eoslog_producer_record z = record("events", 0, NULL, "zombie");
    CHECK_OK(eoslog_producer_send(p, &z, NULL));
    rc = eoslog_producer_commit_transaction(p);
  }
  CHECK(rc == EOSLOG_RESULT_PRODUCER_FENCED || rc == EOSLOG_RESULT_INVALID_PRODUCER_EPOCH ||
        rc == EOSLOG_RESULT_TRANSACTION_ABORTABLE);
  CHECK(poll_all(committed_reader, values, 16) == 0); /* the zombie wrote nothing visible */
  CHECK_OK(eoslog_producer_begin_transaction(successor));
  eoslog_producer_record s = record("events", 0, NULL, "successor");
  CHECK_OK(eoslog_producer_send(successor, &s, NULL));
  CHECK_OK(eoslog_producer_commit_transaction(successor));
  CHECK(poll_all(committed_reader, values, 16) == 1);
  CHECK(strcmp(values[0], "successor") == 0);
  eoslog_message_set *set = NULL;
  CHECK_OK(eoslog_consumer_seek(committed_reader, "events", 0, 0));
  int seen = 0, txn = 0;
  for (;;) {
    CHECK_OK(eoslog_consumer_poll(committed_reader, 200, &set));
    size_t len = eoslog_message_set_len(set);
    for (size_t i = 0; i < len; i++) {
      eoslog_message m;
      CHECK_OK(eoslog_message_set_get(set, i, &m));
      CHECK(strncmp((const char *)m.value, "aborted", 7) != 0);
      txn += m.is_transactional;
      seen++;
    }
    CHECK_OK(eoslog_message_set_free(set));
    if (len == 0) break;
  }
  CHECK(seen == 6 && txn == 3);

  CHECK_OK(eoslog_group_metadata_free(gm));
  CHECK_OK(eoslog_producer_free(successor));
  CHECK_OK(eoslog_producer_free(p));
  CHECK_OK(eoslog_consumer_free(committed_reader));
  CHECK_OK(eoslog_consumer_free(dirty_reader));
}

/* The broker-style produce: a transactional batch needs the producer's transactional id. */
static void broker_produce(eoslog_engine *engine) {
  eoslog_batch_builder *b = NULL;
  CHECK_OK(eoslog_batch_builder_new(&b));
  CHECK_OK(eoslog_batch_builder_set_producer(b, 4242, 0, 0));
  CHECK_OK(eoslog_batch_builder_set_transactional(b, true));
  CHECK_OK(eoslog_batch_builder_append(b, 1, NULL, 0, (const uint8_t *)"t", 1, NULL, 0));
  eoslog_buffer *batch = NULL;
  CHECK_OK(eoslog_batch_builder_build(b, &batch));
  eoslog_append_info info;
  CHECK_RC(eoslog_engine_produce(engine, "events", 0, eoslog_buffer_data(batch), eoslog_buffer_len(batch),
                                 NULL, &info),
           EOSLOG_RESULT_INVALID_TXN_STATE);
  /* A transactional id the coordinator does not know for this producer: refused too. */
  eoslog_result rc = eoslog_engine_produce(engine, "events", 0, eoslog_buffer_data(batch),
                                           eoslog_buffer_len(batch), "unknown-txn", &info);
  CHECK(rc != EOSLOG_RESULT_OK);
  CHECK_OK(eoslog_buffer_free(batch));

  /* A plain batch goes straight in. */
  eoslog_batch_builder *plain = NULL;
  CHECK_OK(eoslog_batch_builder_new(&plain));
  CHECK_OK(eoslog_batch_builder_append(plain, 1, NULL, 0, (const uint8_t *)"p", 1, NULL, 0));
  CHECK_OK(eoslog_batch_builder_build(plain, &batch));
  CHECK_OK(eoslog_engine_produce(engine, "events", 0, eoslog_buffer_data(batch), eoslog_buffer_len(batch), NULL,
                                 &info));
  CHECK(!info.duplicate && info.record_count == 1);
  CHECK_OK(eoslog_buffer_free(batch));
  CHECK_OK(eoslog_batch_builder_free(plain));
  CHECK_OK(eoslog_batch_builder_free(b));
}

int main(void) {
  char *dir = temp_dir("eos");
  eoslog_engine *engine = open_engine(dir);
  CHECK_OK(eoslog_engine_create_topic(engine, "events", 1, NULL, 0));
  idempotent_producer(engine);
  transactions(engine);
  broker_produce(engine);
  CHECK_OK(eoslog_engine_close(engine));
  CHECK_OK(eoslog_engine_free(engine));
  remove_tree(dir);
  free(dir);
  return pass("test_eos");
}
