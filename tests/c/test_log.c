/*
 * Raw partition access through the C ABI: the batch builder, append with AppendInfo (including
 * the duplicate flag), producer-state rules at the log (dedup, sequence gaps, epoch fencing),
 * reads with a zero-copy view, the file range for sendfile, batch and record iterators,
 * compression, and concurrent appends from several threads.
 */
#include "check.h"

#include <pthread.h>

static int small(void) { return getenv("EOSLOG_TEST_SMALL") != NULL; }

/* Builds a batch of `n` records "k<i>" -> "value-<i>" with one header each. */
static eoslog_buffer *build(int64_t producer_id, int16_t epoch, int32_t sequence, int n,
                            eoslog_compression compression) {
  eoslog_batch_builder *b = NULL;
  CHECK_OK(eoslog_batch_builder_new(&b));
  CHECK_OK(eoslog_batch_builder_set_producer(b, producer_id, epoch, sequence));
  CHECK_OK(eoslog_batch_builder_set_compression(b, compression));
  for (int i = 0; i < n; i++) {
    char key[32], value[64];
    int kl = snprintf(key, sizeof key, "k%d", i);
    int vl = snprintf(value, sizeof value, "value-%d", i);
    eoslog_header h = {(const uint8_t *)"trace", 5, (const uint8_t *)"abc", 3};
    CHECK_OK(eoslog_batch_builder_append(b, 1700000000000 + i, (const uint8_t *)key, (size_t)kl,
                                         (const uint8_t *)value, (size_t)vl, &h, 1));
  }
  CHECK(eoslog_batch_builder_len(b) == (size_t)n);
  eoslog_buffer *out = NULL;
  CHECK_OK(eoslog_batch_builder_build(b, &out));
  CHECK_OK(eoslog_batch_builder_free(b));
  CHECK_OK(eoslog_batch_validate(eoslog_buffer_data(out), eoslog_buffer_len(out)));
  return out;
}

static eoslog_result append(eoslog_partition *p, eoslog_buffer *batch, eoslog_append_info *info) {
  return eoslog_partition_append(p, eoslog_buffer_data(batch), eoslog_buffer_len(batch), info);
}

static void append_dedup_and_fencing(eoslog_engine *engine) {
  CHECK_OK(eoslog_engine_create_topic(engine, "raw", 1, NULL, 0));
  eoslog_partition *p = NULL;
  CHECK_OK(eoslog_partition_open(engine, "raw", 0, &p));

  eoslog_buffer *first = build(7, 0, 0, 3, EOSLOG_COMPRESSION_NONE);
  eoslog_append_info info;
  CHECK_OK(append(p, first, &info));
  CHECK(info.first_offset == 0 && info.last_offset == 2 && info.record_count == 3 && !info.duplicate);
  CHECK(info.log_append_time == -1 && info.log_start_offset == 0);

  /* A retried batch is recognised: same offsets, nothing written. */
  eoslog_partition_offsets before, after;
  CHECK_OK(eoslog_partition_get_offsets(p, &before));
  eoslog_append_info retry;
  CHECK_OK(append(p, first, &retry));
  CHECK(retry.duplicate && retry.first_offset == 0 && retry.last_offset == 2);
  CHECK_OK(eoslog_partition_get_offsets(p, &after));
  CHECK(after.log_end_offset == before.log_end_offset && after.log_end_offset == 3);

  /* The next sequence is accepted; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER. */
  eoslog_buffer *next = build(7, 0, 3, 2, EOSLOG_COMPRESSION_NONE);
  CHECK_OK(append(p, next, &info));
  CHECK(info.first_offset == 3 && !info.duplicate);
  eoslog_buffer *gap = build(7, 0, 9, 1, EOSLOG_COMPRESSION_NONE);
  CHECK_RC(append(p, gap, &info), EOSLOG_RESULT_OUT_OF_ORDER_SEQUENCE_NUMBER);

  /* A new epoch starts at sequence 0 and fences the old one (a zombie). */
  eoslog_buffer *bumped = build(7, 1, 0, 1, EOSLOG_COMPRESSION_NONE);
  CHECK_OK(append(p, bumped, &info));
  CHECK(info.first_offset == 5);
  eoslog_buffer *zombie = build(7, 0, 5, 1, EOSLOG_COMPRESSION_NONE);
  CHECK_RC(append(p, zombie, &info), EOSLOG_RESULT_INVALID_PRODUCER_EPOCH);
  CHECK(strstr(last_message(), "epoch") != NULL);

  /* Without a producer id every append is written. */
  eoslog_buffer *plain = build(-1, -1, -1, 1, EOSLOG_COMPRESSION_NONE);
  CHECK_OK(append(p, plain, &info));
  CHECK_OK(append(p, plain, &info));
  CHECK(info.first_offset == 7 && !info.duplicate);
  CHECK_OK(eoslog_partition_get_offsets(p, &after));
  CHECK(after.log_end_offset == 8 && after.high_watermark == 8 && after.last_stable_offset == 8);

  eoslog_buffer *all[] = {first, next, gap, bumped, zombie, plain};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) CHECK_OK(eoslog_buffer_free(all[i]));
  CHECK_OK(eoslog_partition_free(p));
}

/* Reads everything back: the view, the file range, batches and records. */
static void read_and_iterate(eoslog_engine *engine) {
  eoslog_partition *p = NULL;
  CHECK_OK(eoslog_partition_open(engine, "raw", 0, &p));
  eoslog_fetch *fetch = NULL;
  CHECK_OK(eoslog_partition_read(p, 0, 1 << 20, EOSLOG_ISOLATION_READ_UNCOMMITTED, &fetch));
  eoslog_fetch_info info;
  CHECK_OK(eoslog_fetch_get_info(fetch, &info));
  CHECK(info.records != NULL && info.records_len > 0);
  CHECK(info.high_watermark == 8 && info.last_stable_offset == 8 && info.log_start_offset == 0);
  CHECK(info.log_end_offset == 8 && !info.has_aborted_transactions && info.aborted_transactions_len == 0);

  /* sendfile's view of the same bytes: the segment file at file_position. */
  eoslog_io_kind kind;
  CHECK_OK(eoslog_engine_get_io_kind(engine, &kind));
  CHECK(info.fd >= 0);
  unsigned char *copy = malloc(info.records_len);
  CHECK(copy != NULL);
  CHECK(pread(info.fd, copy, info.records_len, (off_t)info.file_position) == (ssize_t)info.records_len);
  CHECK(memcmp(copy, info.records, info.records_len) == 0);
  free(copy);

  /* Batches and records. */
  eoslog_batch_iter *batches = NULL;
  CHECK_OK(eoslog_fetch_batches(fetch, &batches));
  eoslog_batch_info b;
  int n_batches = 0;
  int64_t expected_offset = 0;
  eoslog_result rc;
  while ((rc = eoslog_batch_iter_next(batches, &b)) == EOSLOG_RESULT_OK) {
    CHECK(b.magic == 2 && b.crc_valid && !b.is_control && b.control_type == -1);
    CHECK(b.base_offset == expected_offset);
    CHECK(b.compression == EOSLOG_COMPRESSION_NONE && b.timestamp_type == EOSLOG_TIMESTAMP_CREATE_TIME);
    CHECK_OK(eoslog_batch_validate(b.data, b.len));
    eoslog_record_iter *records = NULL;
    CHECK_OK(eoslog_batch_iter_records(batches, &records));
    eoslog_record r;
    int i = 0;
    while ((rc = eoslog_record_iter_next(records, &r)) == EOSLOG_RESULT_OK) {
      char value[64];
      int vl = snprintf(value, sizeof value, "value-%d", i);
      CHECK(r.offset == b.base_offset + i);
      CHECK(r.timestamp == 1700000000000 + i);
      CHECK(r.value_len == (size_t)vl && memcmp(r.value, value, (size_t)vl) == 0);
      CHECK(r.key != NULL && r.key[0] == 'k');
      CHECK(r.headers_len == 1);
      eoslog_header h;
      CHECK_OK(eoslog_record_iter_get_header(records, 0, &h));
      CHECK(h.key_len == 5 && memcmp(h.key, "trace", 5) == 0 && h.value_len == 3);
      CHECK_RC(eoslog_record_iter_get_header(records, 1, &h), EOSLOG_RESULT_INVALID_ARGUMENT);
      i++;
    }
    CHECK(rc == EOSLOG_RESULT_DONE);
    CHECK(i == b.records_count);
    CHECK_OK(eoslog_record_iter_free(records));
    expected_offset = b.last_offset + 1;
    n_batches++;
  }
  CHECK(rc == EOSLOG_RESULT_DONE);
  CHECK(n_batches == 5 && expected_offset == 8);
  /* The iterator keeps the fetch's bytes alive: free the fetch first, then walk again. */
  CHECK_OK(eoslog_batch_iter_free(batches));
  CHECK_OK(eoslog_fetch_batches(fetch, &batches));
  CHECK_OK(eoslog_fetch_free(fetch));
  CHECK_OK(eoslog_batch_iter_next(batches, &b));
  CHECK(b.base_offset == 0 && b.records_count == 3);
  CHECK_OK(eoslog_batch_iter_free(batches));

  /* max_bytes smaller than a batch still returns one whole batch. */
  CHECK_OK(eoslog_partition_read(p, 1, 1, EOSLOG_ISOLATION_LOG_END, &fetch));
  CHECK_OK(eoslog_fetch_get_info(fetch, &info));
  CHECK_OK(eoslog_batch_iter_new(info.records, info.records_len, &batches));
  CHECK_OK(eoslog_batch_iter_next(batches, &b));
  CHECK(b.base_offset == 0 && b.last_offset == 2);
  CHECK_RC(eoslog_batch_iter_next(batches, &b), EOSLOG_RESULT_DONE);
  CHECK_OK(eoslog_batch_iter_free(batches));
  CHECK_OK(eoslog_fetch_free(fetch));

  /* At the end: an empty fetch. Past it: OFFSET_OUT_OF_RANGE. */
  CHECK_OK(eoslog_partition_read(p, 8, 1024, EOSLOG_ISOLATION_READ_COMMITTED, &fetch));
  CHECK_OK(eoslog_fetch_get_info(fetch, &info));
  CHECK(info.records == NULL && info.records_len == 0 && info.fd == -1);
  CHECK(info.has_aborted_transactions && info.aborted_transactions_len == 0);
  CHECK_OK(eoslog_fetch_free(fetch));
  fetch = NULL;
  CHECK_RC(eoslog_partition_read(p, 9, 1024, EOSLOG_ISOLATION_READ_COMMITTED, &fetch),
           EOSLOG_RESULT_OFFSET_OUT_OF_RANGE);
  CHECK(fetch == NULL);
  CHECK_RC(eoslog_partition_read(p, 0, 0, EOSLOG_ISOLATION_READ_COMMITTED, &fetch),
           EOSLOG_RESULT_INVALID_FETCH_SIZE);
  CHECK_OK(eoslog_partition_free(p));
}

/* Every codec round-trips through the builder, the log and the record iterator. */
static void compression(eoslog_engine *engine) {
  CHECK_OK(eoslog_engine_create_topic(engine, "codecs", 1, NULL, 0));
  eoslog_partition *p = NULL;
  CHECK_OK(eoslog_partition_open(engine, "codecs", 0, &p));
  eoslog_compression codecs[] = {EOSLOG_COMPRESSION_GZIP, EOSLOG_COMPRESSION_SNAPPY, EOSLOG_COMPRESSION_LZ4,
                                 EOSLOG_COMPRESSION_ZSTD};
  for (int c = 0; c < 4; c++) {
    eoslog_buffer *batch = build(-1, -1, -1, 20, codecs[c]);
    eoslog_append_info info;
    CHECK_OK(append(p, batch, &info));
    CHECK(info.record_count == 20);
    eoslog_fetch *fetch = NULL;
    CHECK_OK(eoslog_partition_read(p, info.first_offset, 1 << 16, EOSLOG_ISOLATION_READ_UNCOMMITTED, &fetch));
    eoslog_fetch_info fi;
    CHECK_OK(eoslog_fetch_get_info(fetch, &fi));
    eoslog_batch_iter *it = NULL;
    CHECK_OK(eoslog_batch_iter_new(fi.records, fi.records_len, &it));
    eoslog_batch_info b;
    CHECK_OK(eoslog_batch_iter_next(it, &b));
    CHECK(b.compression == codecs[c]);
    eoslog_record_iter *records = NULL;
    CHECK_OK(eoslog_record_iter_new(b.data, b.len, &records));
    eoslog_record r;
    int n = 0;
    while (eoslog_record_iter_next(records, &r) == EOSLOG_RESULT_OK) {
      char value[64];
      int vl = snprintf(value, sizeof value, "value-%d", n);
      CHECK(r.value_len == (size_t)vl && memcmp(r.value, value, (size_t)vl) == 0);
      n++;
    }
    CHECK(n == 20);
    CHECK_OK(eoslog_record_iter_free(records));
    CHECK_OK(eoslog_batch_iter_free(it));
    CHECK_OK(eoslog_fetch_free(fetch));
    CHECK_OK(eoslog_buffer_free(batch));
  }
  CHECK_OK(eoslog_partition_free(p));
}

struct appender {
  eoslog_partition *partition;
  eoslog_buffer *batch;
  int appends;
  int failures;
};

static void *append_loop(void *arg) {
  struct appender *a = (struct appender *)arg;
  for (int i = 0; i < a->appends; i++) {
    eoslog_append_info info;
    if (append(a->partition, a->batch, &info) != EOSLOG_RESULT_OK) a->failures++;
  }
  return NULL;
}

/* One partition handle shared by several threads. */
static void concurrent_appends(eoslog_engine *engine) {
  CHECK_OK(eoslog_engine_create_topic(engine, "shared", 1, NULL, 0));
  eoslog_partition *p = NULL;
  CHECK_OK(eoslog_partition_open(engine, "shared", 0, &p));
  eoslog_buffer *batch = build(-1, -1, -1, 2, EOSLOG_COMPRESSION_NONE);
  enum { THREADS = 4 };
  pthread_t threads[THREADS];
  struct appender work[THREADS];
  int per_thread = small() ? 10 : 100;
  for (int i = 0; i < THREADS; i++) {
    work[i] = (struct appender){p, batch, per_thread, 0};
    CHECK(pthread_create(&threads[i], NULL, append_loop, &work[i]) == 0);
  }
  for (int i = 0; i < THREADS; i++) {
    CHECK(pthread_join(threads[i], NULL) == 0);
    CHECK(work[i].failures == 0);
  }
  eoslog_partition_offsets o;
  CHECK_OK(eoslog_partition_get_offsets(p, &o));
  CHECK(o.log_end_offset == (int64_t)THREADS * per_thread * 2);
  CHECK_OK(eoslog_partition_flush(p));
  CHECK_OK(eoslog_partition_get_offsets(p, &o));
  CHECK(o.durable_offset == o.log_end_offset);
  CHECK_OK(eoslog_buffer_free(batch));
  CHECK_OK(eoslog_partition_free(p));
}

int main(void) {
  char *dir = temp_dir("log");
  eoslog_engine *engine = open_engine(dir);
  append_dedup_and_fencing(engine);
  read_and_iterate(engine);
  compression(engine);
  concurrent_appends(engine);
  CHECK_OK(eoslog_engine_close(engine));
  CHECK_OK(eoslog_engine_free(engine));
  remove_tree(dir);
  free(dir);
  return pass("test_log");
}
