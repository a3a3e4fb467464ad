/*
 * Bad input through the C ABI. Each case must get an error code and a message -- never a
 * crash, never a change on disk, never a write to an out-parameter:
 * NULL handles and NULL buffers with non-zero lengths, lengths past any sane bound, invalid
 * UTF-8, illegal topic names, corrupt batches, misaligned pointers, unknown enumerators, calls
 * after close, double free and use after free of a fetch result (and other handles), handles
 * of the wrong type, a panic inside the library, and per-thread error messages.
 */
#include "check.h"

#include <pthread.h>

/* Declared here, not in eoslog.h: a test-only export that panics inside the ABI boundary. */
extern eoslog_result eoslog_test_panic(int32_t kind);

/* CRC-32C (Castagnoli), to forge batches whose CRC is right but whose contents are not. */
static uint32_t crc32c(const uint8_t *data, size_t len) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < len; i++) {
    crc ^= data[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Recomputes the CRC of a batch (over bytes 21..end) after it was edited. */
static void fix_crc(uint8_t *batch, size_t len) { put_be32(batch + 17, crc32c(batch + 21, len - 21)); }

static uint8_t *valid_batch(size_t *len) {
  eoslog_batch_builder *b = NULL;
  CHECK_OK(eoslog_batch_builder_new(&b));
  CHECK_OK(eoslog_batch_builder_append(b, 1000, (const uint8_t *)"key", 3, (const uint8_t *)"value", 5, NULL, 0));
  CHECK_OK(eoslog_batch_builder_append(b, 1001, NULL, 0, (const uint8_t *)"second", 6, NULL, 0));
  eoslog_buffer *buf = NULL;
  CHECK_OK(eoslog_batch_builder_build(b, &buf));
  *len = eoslog_buffer_len(buf);
  uint8_t *copy = malloc(*len);
  CHECK(copy != NULL);
  memcpy(copy, eoslog_buffer_data(buf), *len);
  CHECK_OK(eoslog_buffer_free(buf));
  CHECK_OK(eoslog_batch_builder_free(b));
  return copy;
}

static const eoslog_append_info SENTINEL_INFO = {-7, -7, -7, -7, -7, true};

static int info_untouched(const eoslog_append_info *i) {
  return i->first_offset == -7 && i->last_offset == -7 && i->record_count == -7 && i->duplicate;
}

static void null_handles_and_out_parameters(void) {
  eoslog_append_info info = SENTINEL_INFO;
  uint8_t byte = 0;
  CHECK_RC(eoslog_engine_close(NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_engine_flush(NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_engine_create_topic(NULL, "t", 1, NULL, 0), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK(strstr(last_message(), "engine") != NULL);
  CHECK_RC(eoslog_partition_append(NULL, &byte, 1, &info), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK(info_untouched(&info));
  CHECK_RC(eoslog_partition_read(NULL, 0, 1, EOSLOG_ISOLATION_READ_COMMITTED, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_producer_begin_transaction(NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_producer_send(NULL, NULL, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_consumer_poll(NULL, 0, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_consumer_assign(NULL, NULL, 0), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_fetch_get_info(NULL, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_batch_iter_next(NULL, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_record_iter_next(NULL, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_batch_builder_append(NULL, 0, NULL, 0, NULL, 0, NULL, 0), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_batch_builder_new(NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_group_metadata_new(NULL, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_delivery_wait(NULL, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_message_set_get(NULL, 0, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_topic_list_get(NULL, 0, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  /* Infallible getters return a neutral value and record the error. */
  CHECK(eoslog_buffer_len(NULL) == 0 && eoslog_last_error_code() == EOSLOG_RESULT_NULL_PARAMETER);
  CHECK(eoslog_buffer_data(NULL) == NULL);
  CHECK(eoslog_message_set_len(NULL) == 0);
  CHECK(eoslog_topic_list_len(NULL) == 0);
  CHECK(!eoslog_delivery_is_done(NULL));
  CHECK(eoslog_batch_builder_len(NULL) == 0);
  /* Every _free accepts NULL. */
  CHECK_OK(eoslog_engine_free(NULL));
  CHECK_OK(eoslog_partition_free(NULL));
  CHECK_OK(eoslog_fetch_free(NULL));
  CHECK_OK(eoslog_producer_free(NULL));
  CHECK_OK(eoslog_consumer_free(NULL));
  CHECK_OK(eoslog_message_set_free(NULL));
  CHECK_OK(eoslog_batch_builder_free(NULL));
  CHECK_OK(eoslog_batch_iter_free(NULL));
  CHECK_OK(eoslog_record_iter_free(NULL));
  CHECK_OK(eoslog_buffer_free(NULL));
  CHECK_OK(eoslog_topic_list_free(NULL));
  CHECK_OK(eoslog_delivery_free(NULL));
  CHECK_OK(eoslog_group_metadata_free(NULL));
}

/* Bad arguments against a live engine; the partition's files must not change. */
static void bad_arguments(eoslog_engine *engine, const char *dir) {
  eoslog_partition *p = NULL;
  CHECK_OK(eoslog_partition_open(engine, "guarded", 0, &p));
  size_t len;
  uint8_t *batch = valid_batch(&len);
  eoslog_append_info info = SENTINEL_INFO;
  CHECK_OK(eoslog_partition_append(p, batch, len, &info)); /* offsets 0-1 */
  CHECK_OK(eoslog_partition_flush(p));
  eoslog_partition_offsets before;
  CHECK_OK(eoslog_partition_get_offsets(p, &before));
  uint64_t disk = dir_fingerprint(join(dir, "guarded-0"));
  info = SENTINEL_INFO;

  /* NULL buffers with non-zero lengths. */
  CHECK_RC(eoslog_partition_append(p, NULL, 61, &info), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK(strstr(last_message(), "61") != NULL);
  CHECK_RC(eoslog_partition_append(p, batch, len, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_engine_create_topic(engine, "t", 1, NULL, 2), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_batch_iter_new(NULL, 5, &(eoslog_batch_iter *){NULL}), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_record_iter_new(NULL, 100, &(eoslog_record_iter *){NULL}), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_batch_validate(NULL, 1), EOSLOG_RESULT_NULL_PARAMETER);
  eoslog_batch_builder *b = NULL;
  CHECK_OK(eoslog_batch_builder_new(&b));
  CHECK_RC(eoslog_batch_builder_append(b, 0, NULL, 3, NULL, 0, NULL, 0), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_batch_builder_append(b, 0, NULL, 0, NULL, 4, NULL, 0), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_batch_builder_append(b, 0, NULL, 0, NULL, 0, NULL, 1), EOSLOG_RESULT_NULL_PARAMETER);
  eoslog_header null_key = {NULL, 3, NULL, 0};
  CHECK_RC(eoslog_batch_builder_append(b, 0, NULL, 0, NULL, 0, &null_key, 1), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK(eoslog_batch_builder_len(b) == 0); /* failed appends added nothing */
  eoslog_config_pair null_value[] = {{"durability", NULL}};
  eoslog_engine *other = NULL;
  CHECK_RC(eoslog_engine_open(join(dir, "other"), null_value, 1, &other), EOSLOG_RESULT_NULL_PARAMETER);

  /* Lengths past any sane bound: refused before a byte is read. */
  CHECK_RC(eoslog_partition_append(p, batch, (size_t)EOSLOG_MAX_BUFFER_LEN + 1, &info), EOSLOG_RESULT_LENGTH_TOO_LARGE);
  CHECK_RC(eoslog_partition_append(p, batch, SIZE_MAX, &info), EOSLOG_RESULT_LENGTH_TOO_LARGE);
  CHECK_RC(eoslog_batch_validate(batch, SIZE_MAX / 2), EOSLOG_RESULT_LENGTH_TOO_LARGE);
  CHECK_RC(eoslog_batch_builder_append(b, 0, batch, SIZE_MAX, NULL, 0, NULL, 0), EOSLOG_RESULT_LENGTH_TOO_LARGE);
  eoslog_header h = {(const uint8_t *)"k", 1, NULL, 0};
  CHECK_RC(eoslog_batch_builder_append(b, 0, NULL, 0, NULL, 0, &h, SIZE_MAX), EOSLOG_RESULT_LENGTH_TOO_LARGE);
  CHECK_RC(eoslog_engine_create_topic(engine, "t", 1, null_value, SIZE_MAX), EOSLOG_RESULT_LENGTH_TOO_LARGE);
  char *huge = malloc(EOSLOG_MAX_STRING_LEN + 100);
  CHECK(huge != NULL);
  memset(huge, 'a', EOSLOG_MAX_STRING_LEN + 99);
  huge[EOSLOG_MAX_STRING_LEN + 99] = 0;
  CHECK_RC(eoslog_engine_create_topic(engine, huge, 1, NULL, 0), EOSLOG_RESULT_LENGTH_TOO_LARGE);
  CHECK_RC(eoslog_partition_open(engine, huge, 0, &(eoslog_partition *){NULL}), EOSLOG_RESULT_LENGTH_TOO_LARGE);
  free(huge);

  /* Invalid UTF-8. */
  const char bad_utf8[] = {'t', (char)0xff, (char)0xfe, 0};
  CHECK_RC(eoslog_engine_create_topic(engine, bad_utf8, 1, NULL, 0), EOSLOG_RESULT_INVALID_UTF8);
  CHECK(strstr(last_message(), "UTF-8") != NULL);
  eoslog_config_pair bad_key[] = {{bad_utf8, "1"}};
  CHECK_RC(eoslog_engine_create_topic(engine, "t", 1, bad_key, 1), EOSLOG_RESULT_INVALID_UTF8);
  CHECK_RC(eoslog_engine_open(bad_utf8, NULL, 0, &other), EOSLOG_RESULT_INVALID_UTF8);
  eoslog_header bad_header = {(const uint8_t *)bad_utf8, 3, NULL, 0};
  CHECK_RC(eoslog_batch_builder_append(b, 0, NULL, 0, NULL, 0, &bad_header, 1), EOSLOG_RESULT_INVALID_UTF8);
  CHECK(other == NULL);

  /* Illegal topic names: rejected before they reach the file system. */
  const char *illegal[] = {"", ".", "..", "a/b", "../escape", "with space", "tab\t", "semi;colon", "ümlaut"};
  for (size_t i = 0; i < sizeof illegal / sizeof illegal[0]; i++) {
    CHECK_RC(eoslog_engine_create_topic(engine, illegal[i], 1, NULL, 0), EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION);
    CHECK_RC(eoslog_partition_open(engine, illegal[i], 0, &(eoslog_partition *){NULL}),
             EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION);
    CHECK_RC(eoslog_engine_delete_topic(engine, illegal[i]), EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION);
  }
  char long_name[251];
  memset(long_name, 'n', 250);
  long_name[250] = 0;
  CHECK_RC(eoslog_engine_create_topic(engine, long_name, 1, NULL, 0), EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION);
  CHECK(access(join(dir, "a"), F_OK) != 0 && access(join(dir, "with space-0"), F_OK) != 0);

  /* Unknown enumerators and misaligned pointers. */
  eoslog_fetch *fetch = NULL;
  CHECK_RC(eoslog_partition_read(p, 0, 100, 99, &fetch), EOSLOG_RESULT_INVALID_ARGUMENT);
  CHECK(fetch == NULL);
  CHECK_RC(eoslog_batch_builder_set_compression(b, 9), EOSLOG_RESULT_INVALID_ARGUMENT);
  CHECK_RC(eoslog_batch_builder_set_compression(b, -1), EOSLOG_RESULT_INVALID_ARGUMENT);
  CHECK_RC(eoslog_batch_builder_set_timestamp_type(b, 2), EOSLOG_RESULT_INVALID_ARGUMENT);
  union {
    int64_t align;
    uint8_t bytes[sizeof(eoslog_append_info) + 8];
  } raw;
  CHECK_RC(eoslog_partition_append(p, batch, len, (eoslog_append_info *)(void *)(raw.bytes + 1)),
           EOSLOG_RESULT_INVALID_ARGUMENT);
  CHECK_RC(eoslog_partition_append((const eoslog_partition *)(const void *)((const char *)p + 1), batch, len, &info),
           EOSLOG_RESULT_INVALID_HANDLE);

  /* Corrupt batches: framing, CRC, magic, record counts, control bit, empty. */
  uint8_t *bad = malloc(len + 16);
  CHECK(bad != NULL);
  memcpy(bad, batch, len);
  bad[len - 1] ^= 0x55; /* a flipped bit in the last record: CRC mismatch */
  CHECK_RC(eoslog_partition_append(p, bad, len, &info), EOSLOG_RESULT_CORRUPT_MESSAGE);
  CHECK(strstr(last_message(), "CRC") != NULL);
  CHECK_RC(eoslog_batch_validate(bad, len), EOSLOG_RESULT_CORRUPT_MESSAGE);
  memcpy(bad, batch, len);
  CHECK_RC(eoslog_partition_append(p, bad, len - 1, &info), EOSLOG_RESULT_CORRUPT_MESSAGE); /* truncated */
  CHECK_RC(eoslog_partition_append(p, bad, 30, &info), EOSLOG_RESULT_CORRUPT_MESSAGE);      /* inside the header */
  CHECK_RC(eoslog_partition_append(p, bad, 0, &info), EOSLOG_RESULT_CORRUPT_MESSAGE);       /* empty */
  memcpy(bad + len, batch, 16);
  CHECK_RC(eoslog_partition_append(p, bad, len + 16, &info), EOSLOG_RESULT_CORRUPT_MESSAGE); /* trailing bytes */
  bad[16] = 1; /* magic v1 */
  CHECK_RC(eoslog_partition_append(p, bad, len, &info), EOSLOG_RESULT_UNSUPPORTED_FOR_MESSAGE_FORMAT);
  memcpy(bad, batch, len);
  put_be32(bad + 8, 0x7ffffff0u); /* an impossible batchLength */
  CHECK_RC(eoslog_partition_append(p, bad, len, &info), EOSLOG_RESULT_CORRUPT_MESSAGE);
  memcpy(bad, batch, len);
  put_be32(bad + 57, 3); /* recordsCount disagrees with the records, CRC fixed up */
  fix_crc(bad, len);
  CHECK_RC(eoslog_partition_append(p, bad, len, &info), EOSLOG_RESULT_INVALID_RECORD);
  memcpy(bad, batch, len);
  put_be32(bad + 57, 0x80000000u); /* a negative count */
  fix_crc(bad, len);
  CHECK_RC(eoslog_partition_append(p, bad, len, &info), EOSLOG_RESULT_INVALID_RECORD);
  memcpy(bad, batch, len);
  bad[22] |= 0x20; /* the control bit: only the coordinator writes markers */
  fix_crc(bad, len);
  CHECK(eoslog_partition_append(p, bad, len, &info) == EOSLOG_RESULT_INVALID_RECORD);
  memcpy(bad, batch, len);
  bad[22] |= 0x07; /* compression codec 7 */
  fix_crc(bad, len);
  CHECK(eoslog_partition_append(p, bad, len, &info) == EOSLOG_RESULT_CORRUPT_MESSAGE);
  memset(bad, 0xff, len); /* garbage */
  CHECK(eoslog_partition_append(p, bad, len, &info) != EOSLOG_RESULT_OK);
  /* Iterators over garbage stop with an error. */
  eoslog_batch_iter *it = NULL;
  CHECK_OK(eoslog_batch_iter_new(bad, len, &it));
  eoslog_batch_info bi;
  CHECK_RC(eoslog_batch_iter_next(it, &bi), EOSLOG_RESULT_CORRUPT_MESSAGE);
  CHECK_RC(eoslog_batch_iter_next(it, &bi), EOSLOG_RESULT_DONE);
  CHECK_RC(eoslog_batch_iter_records(it, &(eoslog_record_iter *){NULL}), EOSLOG_RESULT_INVALID_ARGUMENT);
  CHECK_OK(eoslog_batch_iter_free(it));
  memcpy(bad, batch, len);
  put_be32(bad + 57, 3);
  fix_crc(bad, len);
  eoslog_record_iter *ri = NULL;
  CHECK_OK(eoslog_record_iter_new(bad, len, &ri));
  eoslog_record rec;
  CHECK_OK(eoslog_record_iter_next(ri, &rec));
  CHECK_OK(eoslog_record_iter_next(ri, &rec));
  CHECK_RC(eoslog_record_iter_next(ri, &rec), EOSLOG_RESULT_INVALID_RECORD);
  CHECK_RC(eoslog_record_iter_get_header(ri, 0, &(eoslog_header){0}), EOSLOG_RESULT_INVALID_ARGUMENT);
  CHECK_OK(eoslog_record_iter_free(ri));
  free(bad);

  /* Internal topics are not for clients' batches. */
  eoslog_partition *internal = NULL;
  CHECK_OK(eoslog_partition_open(engine, "__consumer_offsets", 0, &internal));
  CHECK_RC(eoslog_partition_append(internal, batch, len, &info), EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION);
  CHECK_RC(eoslog_engine_produce(engine, "__transaction_state", 0, batch, len, NULL, &info),
           EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION);
  CHECK_OK(eoslog_partition_free(internal));

  /* Producer and consumer inputs. */
  eoslog_producer *producer = NULL;
  eoslog_config_pair bad_producer[] = {{"acks", "1"}};
  CHECK_RC(eoslog_producer_new(engine, bad_producer, 1, &producer), EOSLOG_RESULT_INVALID_CONFIG);
  CHECK(producer == NULL);
  eoslog_config_pair bad_consumer[] = {{"isolation.level", "log_end"}};
  eoslog_consumer *consumer = NULL;
  CHECK_RC(eoslog_consumer_new(engine, bad_consumer, 1, &consumer), EOSLOG_RESULT_INVALID_CONFIG);
  CHECK_OK(eoslog_producer_new(engine, NULL, 0, &producer));
  eoslog_producer_record r;
  memset(&r, 0, sizeof r);
  r.topic = "guarded";
  r.partition = 0;
  r.timestamp = -1;
  r.value_len = 10; /* value NULL with a length */
  CHECK_RC(eoslog_producer_send(producer, &r, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  r.value_len = 0;
  r.topic = "bad/topic";
  CHECK_RC(eoslog_producer_send(producer, &r, NULL), EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION);
  r.topic = "guarded";
  r.partition = -2;
  CHECK_RC(eoslog_producer_send(producer, &r, NULL), EOSLOG_RESULT_INVALID_ARGUMENT);
  r.partition = 0;
  r.headers_len = 2; /* headers NULL with a length */
  CHECK_RC(eoslog_producer_send(producer, &r, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_producer_send(producer, NULL, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  eoslog_topic_partition_offset bad_offset = {"guarded", 0, -4, NULL};
  eoslog_group_metadata *gm = NULL;
  CHECK_RC(eoslog_group_metadata_new("", &gm), EOSLOG_RESULT_INVALID_ARGUMENT);
  CHECK_OK(eoslog_group_metadata_new("g", &gm));
  CHECK_RC(eoslog_producer_send_offsets_to_transaction(producer, &bad_offset, 1, gm), EOSLOG_RESULT_INVALID_ARGUMENT);
  CHECK_RC(eoslog_producer_send_offsets_to_transaction(producer, NULL, 1, gm), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_producer_init_transactions(producer), EOSLOG_RESULT_INVALID_TXN_STATE); /* not transactional */
  CHECK_OK(eoslog_group_metadata_free(gm));
  CHECK_OK(eoslog_producer_free(producer));
  eoslog_config_pair group[] = {{"group.id", "g"}};
  CHECK_OK(eoslog_consumer_new(engine, group, 1, &consumer));
  eoslog_topic_partition tps[] = {{"guarded", 0}, {"../guarded", 0}};
  CHECK_RC(eoslog_consumer_assign(consumer, tps, 2), EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION);
  eoslog_topic_partition missing = {"missing", 0};
  CHECK_RC(eoslog_consumer_assign(consumer, &missing, 1), EOSLOG_RESULT_UNKNOWN_TOPIC_OR_PARTITION);
  int64_t position = -99;
  CHECK_RC(eoslog_consumer_position(consumer, "guarded", 0, &position), EOSLOG_RESULT_INVALID_REQUEST);
  CHECK(position == -99);
  CHECK_OK(eoslog_consumer_free(consumer));

  CHECK_OK(eoslog_batch_builder_free(b));
  CHECK(info_untouched(&info)); /* no failed call wrote its out-parameter */
  eoslog_partition_offsets after;
  CHECK_OK(eoslog_partition_get_offsets(p, &after));
  CHECK(after.log_end_offset == before.log_end_offset && after.log_end_offset == 2);
  CHECK(dir_fingerprint(join(dir, "guarded-0")) == disk);
  CHECK_OK(eoslog_partition_free(p));
  free(batch);
}

/* Double free and use after free of a fetch result, and handles of the wrong type. */
static void double_free_and_wrong_handles(eoslog_engine *engine) {
  eoslog_partition *p = NULL;
  CHECK_OK(eoslog_partition_open(engine, "guarded", 0, &p));
  eoslog_fetch *fetch = NULL;
  CHECK_OK(eoslog_partition_read(p, 0, 4096, EOSLOG_ISOLATION_READ_COMMITTED, &fetch));
  CHECK_OK(eoslog_fetch_free(fetch));
  CHECK_RC(eoslog_fetch_free(fetch), EOSLOG_RESULT_INVALID_HANDLE);
  CHECK(strstr(last_message(), "already freed") != NULL);
  eoslog_fetch_info fi;
  CHECK_RC(eoslog_fetch_get_info(fetch, &fi), EOSLOG_RESULT_INVALID_HANDLE);
  CHECK_RC(eoslog_fetch_batches(fetch, &(eoslog_batch_iter *){NULL}), EOSLOG_RESULT_INVALID_HANDLE);
  CHECK_RC(eoslog_fetch_free(fetch), EOSLOG_RESULT_INVALID_HANDLE);

  /* A handle of another type is recognised as such. */
  CHECK_RC(eoslog_fetch_get_info((const eoslog_fetch *)(const void *)p, &fi), EOSLOG_RESULT_INVALID_HANDLE);
  CHECK(strstr(last_message(), "not a eoslog_fetch") != NULL);
  CHECK_RC(eoslog_fetch_free((eoslog_fetch *)(void *)p), EOSLOG_RESULT_INVALID_HANDLE);
  CHECK_RC(eoslog_engine_flush((const eoslog_engine *)(const void *)p), EOSLOG_RESULT_INVALID_HANDLE);
  eoslog_partition_offsets o;
  CHECK_OK(eoslog_partition_get_offsets(p, &o)); /* still fine */

  /* Double free of other handles. */
  eoslog_buffer *buf = NULL;
  eoslog_batch_builder *b = NULL;
  CHECK_OK(eoslog_batch_builder_new(&b));
  CHECK_OK(eoslog_batch_builder_append(b, 0, NULL, 0, NULL, 0, NULL, 0));
  CHECK_OK(eoslog_batch_builder_build(b, &buf));
  CHECK_OK(eoslog_buffer_free(buf));
  CHECK_RC(eoslog_buffer_free(buf), EOSLOG_RESULT_INVALID_HANDLE);
  CHECK(eoslog_buffer_len(buf) == 0 && eoslog_last_error_code() == EOSLOG_RESULT_INVALID_HANDLE);
  CHECK_OK(eoslog_batch_builder_free(b));
  CHECK_RC(eoslog_batch_builder_free(b), EOSLOG_RESULT_INVALID_HANDLE);
  CHECK_OK(eoslog_partition_free(p));
  CHECK_RC(eoslog_partition_free(p), EOSLOG_RESULT_INVALID_HANDLE);
  CHECK_RC(eoslog_partition_get_offsets(p, &o), EOSLOG_RESULT_INVALID_HANDLE);
}

/* After close, every handle made from the engine reports CLOSED; results stay readable. */
static void calls_after_close(const char *dir) {
  eoslog_engine *engine = NULL;
  CHECK_OK(eoslog_engine_open(join(dir, "closing"), NULL, 0, &engine));
  CHECK_OK(eoslog_engine_create_topic(engine, "t", 1, NULL, 0));
  eoslog_partition *p = NULL;
  CHECK_OK(eoslog_partition_open(engine, "t", 0, &p));
  size_t len;
  uint8_t *batch = valid_batch(&len);
  eoslog_append_info info;
  CHECK_OK(eoslog_partition_append(p, batch, len, &info));
  eoslog_fetch *fetch = NULL;
  CHECK_OK(eoslog_partition_read(p, 0, 4096, EOSLOG_ISOLATION_READ_UNCOMMITTED, &fetch));
  eoslog_producer *producer = NULL;
  CHECK_OK(eoslog_producer_new(engine, NULL, 0, &producer));
  eoslog_config_pair group[] = {{"group.id", "g"}};
  eoslog_consumer *consumer = NULL;
  CHECK_OK(eoslog_consumer_new(engine, group, 1, &consumer));

  CHECK_OK(eoslog_engine_close(engine));
  uint64_t disk = dir_fingerprint(join(dir, "closing"));
  info = SENTINEL_INFO;
  CHECK_RC(eoslog_partition_append(p, batch, len, &info), EOSLOG_RESULT_CLOSED);
  CHECK(info_untouched(&info));
  CHECK_RC(eoslog_partition_read(p, 0, 4096, EOSLOG_ISOLATION_READ_UNCOMMITTED, &(eoslog_fetch *){NULL}),
           EOSLOG_RESULT_CLOSED);
  CHECK_RC(eoslog_engine_create_topic(engine, "u", 1, NULL, 0), EOSLOG_RESULT_CLOSED);
  CHECK_RC(eoslog_engine_list_topics(engine, false, &(eoslog_topic_list *){NULL}), EOSLOG_RESULT_CLOSED);
  CHECK_RC(eoslog_engine_produce(engine, "t", 0, batch, len, NULL, &info), EOSLOG_RESULT_CLOSED);
  CHECK_RC(eoslog_engine_get_io_kind(engine, &(eoslog_io_kind){0}), EOSLOG_RESULT_CLOSED);
  CHECK_RC(eoslog_engine_close(engine), EOSLOG_RESULT_CLOSED);
  CHECK_RC(eoslog_partition_open(engine, "t", 0, &(eoslog_partition *){NULL}), EOSLOG_RESULT_CLOSED);
  eoslog_producer_record r;
  memset(&r, 0, sizeof r);
  r.topic = "t";
  r.partition = 0;
  r.timestamp = -1;
  CHECK_RC(eoslog_producer_send(producer, &r, NULL), EOSLOG_RESULT_CLOSED);
  CHECK_RC(eoslog_producer_new(engine, NULL, 0, &(eoslog_producer *){NULL}), EOSLOG_RESULT_CLOSED);
  CHECK_RC(eoslog_consumer_poll(consumer, 0, &(eoslog_message_set *){NULL}), EOSLOG_RESULT_CLOSED);
  CHECK_RC(eoslog_consumer_commit(consumer, NULL, 0), EOSLOG_RESULT_CLOSED);
  /* What was returned before the close is still readable. */
  eoslog_fetch_info fi;
  CHECK_OK(eoslog_fetch_get_info(fetch, &fi));
  CHECK(fi.records_len == len && fi.records != NULL);
  CHECK_OK(eoslog_fetch_free(fetch));
  CHECK_OK(eoslog_consumer_free(consumer));
  CHECK_OK(eoslog_producer_free(producer));
  CHECK_OK(eoslog_partition_free(p));
  CHECK_OK(eoslog_engine_free(engine));
  CHECK(dir_fingerprint(join(dir, "closing")) == disk);
  free(batch);
}

static void panics_become_error_codes(void) {
  CHECK_RC(eoslog_test_panic(0), EOSLOG_RESULT_PANIC);
  CHECK(strstr(last_message(), "deliberate panic") != NULL);
  CHECK_RC(eoslog_test_panic(1), EOSLOG_RESULT_PANIC);
  CHECK_OK(eoslog_test_panic(2));
}

struct worker {
  int id;
  int ok;
};

/* Each thread fails in its own way and must read back its own message. */
static void *error_worker(void *arg) {
  struct worker *w = (struct worker *)arg;
  char topic[32];
  snprintf(topic, sizeof topic, "bad topic %d", w->id);
  w->ok = 1;
  for (int i = 0; i < 50; i++) {
    eoslog_result rc;
    if (w->id % 2) {
      rc = eoslog_batch_validate(NULL, (size_t)w->id);
    } else {
      rc = eoslog_group_metadata_new(topic, NULL);
    }
    char message[256];
    eoslog_last_error_message(message, sizeof message);
    if (rc != EOSLOG_RESULT_NULL_PARAMETER || eoslog_last_error_code() != rc) w->ok = 0;
    char expected[64];
    if (w->id % 2)
      snprintf(expected, sizeof expected, "length is %d", w->id);
    else
      snprintf(expected, sizeof expected, "out_group is NULL");
    if (strstr(message, expected) == NULL) w->ok = 0;
  }
  return NULL;
}

static void messages_are_per_thread(void) {
  enum { N = 4 };
  pthread_t threads[N];
  struct worker workers[N];
  for (int i = 0; i < N; i++) {
    workers[i] = (struct worker){i + 1, 0};
    CHECK(pthread_create(&threads[i], NULL, error_worker, &workers[i]) == 0);
  }
  for (int i = 0; i < N; i++) {
    CHECK(pthread_join(threads[i], NULL) == 0);
    CHECK(workers[i].ok);
  }
}

int main(void) {
  char *dir = temp_dir("bad");
  null_handles_and_out_parameters();
  eoslog_engine *engine = open_engine(dir);
  /* Small index files keep the disk fingerprint cheap. */
  eoslog_config_pair topic[] = {{"segment.index.bytes", "4096"}};
  CHECK_OK(eoslog_engine_create_topic(engine, "guarded", 1, topic, 1));
  bad_arguments(engine, dir);
  double_free_and_wrong_handles(engine);
  CHECK_OK(eoslog_engine_close(engine));
  CHECK_OK(eoslog_engine_free(engine));
  calls_after_close(dir);
  panics_become_error_codes();
  messages_are_per_thread();
  remove_tree(dir);
  free(dir);
  return pass("test_bad_input");
}
