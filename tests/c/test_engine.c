/*
 * The engine through the C ABI: version, result codes and messages, open/close with
 * configuration, the I/O backend, the recovery report, topics (create, list with config,
 * delete), flush, retention, and the directory lock.
 */
#include "check.h"

static void version_and_results(void) {
  CHECK(strcmp(eoslog_version(), EOSLOG_VERSION_STRING) == 0);
  CHECK(eoslog_version_number() == EOSLOG_VERSION_NUMBER);
  CHECK(EOSLOG_VERSION_NUMBER ==
        EOSLOG_VERSION_MAJOR * 1000000 + EOSLOG_VERSION_MINOR * 1000 + EOSLOG_VERSION_PATCH);

  /* Kafka codes are themselves; eoslog's own start at 7000. */
  CHECK(EOSLOG_RESULT_OK == 0);
  CHECK(EOSLOG_RESULT_OUT_OF_ORDER_SEQUENCE_NUMBER == 45);
  CHECK(EOSLOG_RESULT_PRODUCER_FENCED == 90);
  CHECK(EOSLOG_RESULT_NULL_PARAMETER == 7000);
  CHECK(strcmp(eoslog_result_name(EOSLOG_RESULT_OK), "OK") == 0);
  CHECK(strcmp(eoslog_result_name(45), "OUT_OF_ORDER_SEQUENCE_NUMBER") == 0);
  CHECK(strcmp(eoslog_result_name(-1), "UNKNOWN_SERVER_ERROR") == 0);
  CHECK(strcmp(eoslog_result_name(EOSLOG_RESULT_PANIC), "PANIC") == 0);
  CHECK(strcmp(eoslog_result_name(6999), "UNKNOWN_RESULT") == 0);
  CHECK(strcmp(eoslog_io_kind_name(EOSLOG_IO_KIND_STD), "std") == 0);
  CHECK(strcmp(eoslog_compression_name(EOSLOG_COMPRESSION_ZSTD), "zstd") == 0);

  /* The message API behaves like snprintf. */
  eoslog_engine *engine = NULL;
  CHECK_RC(eoslog_engine_open(NULL, NULL, 0, &engine), EOSLOG_RESULT_NULL_PARAMETER);
  size_t full = eoslog_last_error_message(NULL, 0);
  CHECK(full > 0);
  char small[8];
  CHECK(eoslog_last_error_message(small, sizeof small) == full);
  CHECK(strlen(small) == sizeof small - 1);
  CHECK(strstr(last_message(), "dir") != NULL);
}

static void open_close_and_configuration(void) {
  char *dir = temp_dir("engine");
  eoslog_engine *engine = NULL;

  /* An unknown key or a bad value is INVALID_CONFIG and creates nothing. */
  eoslog_config_pair bad_key[] = {{"no.such.key", "1"}};
  CHECK_RC(eoslog_engine_open(join(dir, "data"), bad_key, 1, &engine), EOSLOG_RESULT_INVALID_CONFIG);
  CHECK(strstr(last_message(), "no.such.key") != NULL);
  eoslog_config_pair bad_value[] = {{"durability", "sometimes"}};
  CHECK_RC(eoslog_engine_open(join(dir, "data"), bad_value, 1, &engine), EOSLOG_RESULT_INVALID_CONFIG);
  CHECK(engine == NULL);
  CHECK(access(join(dir, "data"), F_OK) != 0);

  eoslog_config_pair config[] = {
      {"io", "std"},           {"durability", "always"}, {"segment.bytes", "4096"},
      {"retention.ms", "-1"},  {"log.retention.bytes", "-1"},
  };
  CHECK_OK(eoslog_engine_open(join(dir, "data"), config, sizeof config / sizeof config[0], &engine));
  eoslog_io_kind kind = -1;
  CHECK_OK(eoslog_engine_get_io_kind(engine, &kind));
  CHECK(kind == EOSLOG_IO_KIND_STD);

  /* The directory is locked: a second engine on it is refused. */
  eoslog_engine *second = NULL;
  CHECK_RC(eoslog_engine_open(join(dir, "data"), NULL, 0, &second), EOSLOG_RESULT_LOCKED);
  CHECK(second == NULL);

  eoslog_recovery_report report;
  CHECK_OK(eoslog_engine_get_recovery_report(engine, &report));
  CHECK(!report.clean_shutdown); /* a new directory has no clean-shutdown marker */

  /* Topics: create with settings, list with their effective config, delete. */
  eoslog_config_pair topic_config[] = {{"retention.ms", "3600000"}, {"max.message.bytes", "2048"}};
  CHECK_OK(eoslog_engine_create_topic(engine, "orders", 3, topic_config, 2));
  CHECK_OK(eoslog_engine_create_topic(engine, "audit.log-v1", 1, NULL, 0));
  CHECK_RC(eoslog_engine_create_topic(engine, "orders", 1, NULL, 0), EOSLOG_RESULT_TOPIC_ALREADY_EXISTS);
  CHECK_RC(eoslog_engine_create_topic(engine, "zero", 0, NULL, 0), EOSLOG_RESULT_INVALID_PARTITIONS);
  CHECK_RC(eoslog_engine_create_topic(engine, "__consumer_offsets", 1, NULL, 0),
           EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION);

  eoslog_topic_list *list = NULL;
  CHECK_OK(eoslog_engine_list_topics(engine, false, &list));
  CHECK(eoslog_topic_list_len(list) == 2);
  eoslog_topic_info info;
  CHECK_OK(eoslog_topic_list_get(list, 0, &info));
  CHECK(strcmp(info.name, "audit.log-v1") == 0 && info.partitions == 1 && !info.internal);
  CHECK_OK(eoslog_topic_list_get(list, 1, &info));
  CHECK(strcmp(info.name, "orders") == 0 && info.partitions == 3);
  CHECK(strlen(info.topic_id) > 0);
  int seen = 0;
  for (size_t i = 0; i < info.config_len; i++) {
    eoslog_config_pair pair;
    CHECK_OK(eoslog_topic_list_get_config(list, 1, i, &pair));
    if (strcmp(pair.key, "retention.ms") == 0) seen += strcmp(pair.value, "3600000") == 0;
    if (strcmp(pair.key, "max.message.bytes") == 0) seen += strcmp(pair.value, "2048") == 0;
    if (strcmp(pair.key, "segment.bytes") == 0) seen += strcmp(pair.value, "4096") == 0;
  }
  CHECK(seen == 3); /* topic settings, and the engine's default for the rest */
  CHECK_RC(eoslog_topic_list_get(list, 2, &info), EOSLOG_RESULT_INVALID_ARGUMENT);
  CHECK_OK(eoslog_topic_list_free(list));

  CHECK_OK(eoslog_engine_list_topics(engine, true, &list));
  CHECK(eoslog_topic_list_len(list) == 4); /* + __consumer_offsets, __transaction_state */
  CHECK_OK(eoslog_topic_list_free(list));

  CHECK_OK(eoslog_engine_delete_topic(engine, "audit.log-v1"));
  CHECK_RC(eoslog_engine_delete_topic(engine, "audit.log-v1"), EOSLOG_RESULT_UNKNOWN_TOPIC_OR_PARTITION);
  CHECK_RC(eoslog_engine_delete_topic(engine, "__transaction_state"), EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION);

  CHECK_OK(eoslog_engine_flush(engine));
  size_t deleted = 99;
  CHECK_OK(eoslog_engine_run_retention(engine, &deleted));
  CHECK(deleted == 0);

  CHECK_OK(eoslog_engine_close(engine));
  CHECK_RC(eoslog_engine_close(engine), EOSLOG_RESULT_CLOSED);
  CHECK_OK(eoslog_engine_free(engine));

  /* Reopen: a clean shutdown, the topics are still there. */
  CHECK_OK(eoslog_engine_open(join(dir, "data"), config, 1, &engine));
  CHECK_OK(eoslog_engine_get_recovery_report(engine, &report));
  CHECK(report.clean_shutdown);
  CHECK(report.truncated_bytes == 0 && report.partitions_changed == 0);
  CHECK(report.partitions_len == 5); /* orders-0..2 and the two internal partitions */
  int found_orders = 0;
  for (size_t i = 0; i < report.partitions_len; i++) {
    eoslog_partition_recovery p;
    CHECK_OK(eoslog_engine_get_recovery_partition(engine, i, &p));
    CHECK(p.clean_shutdown && p.truncated_to_offset == -1 && p.truncation_reason == NULL);
    found_orders += strncmp(p.partition, "orders-", 7) == 0;
  }
  CHECK(found_orders == 3);
  CHECK_RC(eoslog_engine_get_recovery_partition(engine, report.partitions_len, &(eoslog_partition_recovery){0}),
           EOSLOG_RESULT_INVALID_ARGUMENT);
  CHECK_OK(eoslog_engine_list_topics(engine, false, &list));
  CHECK(eoslog_topic_list_len(list) == 1);
  CHECK_OK(eoslog_topic_list_free(list));
  /* Freeing without closing closes. */
  CHECK_OK(eoslog_engine_free(engine));
  CHECK_OK(eoslog_engine_open(join(dir, "data"), NULL, 0, &engine));
  CHECK_OK(eoslog_engine_get_recovery_report(engine, &report));
  CHECK(report.clean_shutdown);
  CHECK_OK(eoslog_engine_free(engine));

  remove_tree(dir);
  free(dir);
}

/* Recovery after an unclean stop: a torn tail is cut and reported. */
static void recovery_report_after_a_torn_tail(void) {
  char *dir = temp_dir("recovery");
  eoslog_engine *engine = open_engine(dir);
  CHECK_OK(eoslog_engine_create_topic(engine, "t", 1, NULL, 0));
  eoslog_partition *p = NULL;
  CHECK_OK(eoslog_partition_open(engine, "t", 0, &p));
  eoslog_batch_builder *b = NULL;
  CHECK_OK(eoslog_batch_builder_new(&b));
  CHECK_OK(eoslog_batch_builder_append(b, 1000, NULL, 0, (const uint8_t *)"v", 1, NULL, 0));
  eoslog_buffer *batch = NULL;
  CHECK_OK(eoslog_batch_builder_build(b, &batch));
  eoslog_append_info info;
  for (int i = 0; i < 3; i++)
    CHECK_OK(eoslog_partition_append(p, eoslog_buffer_data(batch), eoslog_buffer_len(batch), &info));
  CHECK_OK(eoslog_partition_free(p));
  CHECK_OK(eoslog_engine_close(engine));
  CHECK_OK(eoslog_engine_free(engine));

  /* Simulate a crash: remove the clean-shutdown marker and tear the last batch. */
  CHECK(remove(join(dir, ".eoslog_cleanshutdown")) == 0);
  char log_path[4096];
  snprintf(log_path, sizeof log_path, "%s/t-0/00000000000000000000.log", dir);
  struct stat st;
  CHECK(stat(log_path, &st) == 0);
  CHECK(truncate(log_path, st.st_size - 5) == 0);

  engine = open_engine(dir);
  eoslog_recovery_report report;
  CHECK_OK(eoslog_engine_get_recovery_report(engine, &report));
  CHECK(!report.clean_shutdown);
  CHECK(report.partitions_changed >= 1);
  CHECK(report.truncated_bytes == (uint64_t)eoslog_buffer_len(batch) - 5);
  int found = 0;
  for (size_t i = 0; i < report.partitions_len; i++) {
    eoslog_partition_recovery pr;
    CHECK_OK(eoslog_engine_get_recovery_partition(engine, i, &pr));
    if (strcmp(pr.partition, "t-0") == 0) {
      found = 1;
      CHECK(pr.truncated_to_offset == 2 && pr.log_end_offset == 2);
      CHECK(pr.truncation_reason != NULL && strlen(pr.truncation_reason) > 0);
    }
  }
  CHECK(found);
  CHECK_OK(eoslog_engine_free(engine));
  CHECK_OK(eoslog_buffer_free(batch));
  CHECK_OK(eoslog_batch_builder_free(b));
  remove_tree(dir);
  free(dir);
}

int main(void) {
  version_and_results();
  open_close_and_configuration();
  recovery_report_after_a_torn_tail();
  return pass("test_engine");
}
