/*
 * The C side of `make bench-ffi`: appends the same prebuilt batch `appends` times to one
 * partition through the C ABI and reports the rate, exactly as ffi-c/examples/append_bench.rs
 * does through the Rust API.
 *
 *   append_bench <data-dir> <appends> <records-per-batch> <value-bytes>
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eoslog.h"

static void die(eoslog_result rc, const char *what) {
  char message[512];
  eoslog_last_error_message(message, sizeof message);
  fprintf(stderr, "%s: %s: %s\n", what, eoslog_result_name(rc), message);
  exit(1);
}

#define TRY(call, what)                                                                           \
  do {                                                                                            \
    eoslog_result rc_ = (call);                                                                   \
    if (rc_ != EOSLOG_RESULT_OK) die(rc_, what);                                                  \
  } while (0)

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: append_bench <data-dir> <appends> <records-per-batch> <value-bytes>\n");
    return 2;
  }
  long long appends = atoll(argv[2]);
  int records = atoi(argv[3]);
  size_t value_len = (size_t)atol(argv[4]);
  uint8_t *value = malloc(value_len ? value_len : 1);
  memset(value, 'x', value_len);

  eoslog_engine *engine;
  TRY(eoslog_engine_open(argv[1], NULL, 0, &engine), "open");
  TRY(eoslog_engine_create_topic(engine, "bench", 1, NULL, 0), "create topic");
  eoslog_partition *partition;
  TRY(eoslog_partition_open(engine, "bench", 0, &partition), "partition");
  /* A plain batch (no producer id): every append writes it again. */
  eoslog_batch_builder *builder;
  TRY(eoslog_batch_builder_new(&builder), "builder");
  for (int i = 0; i < records; i++)
    TRY(eoslog_batch_builder_append(builder, 1700000000000LL + i, NULL, 0, value, value_len, NULL, 0), "append");
  eoslog_buffer *batch;
  TRY(eoslog_batch_builder_build(builder, &batch), "build");
  const uint8_t *data = eoslog_buffer_data(batch);
  size_t len = eoslog_buffer_len(batch);

  /* Wall time, and the process's CPU time (all threads), which a loaded machine's waiting
   * does not inflate. */
  struct timespec start, end, cpu_start, cpu_end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_start);
  for (long long i = 0; i < appends; i++) {
    eoslog_append_info info;
    eoslog_result rc = eoslog_partition_append(partition, data, len, &info);
    if (rc != EOSLOG_RESULT_OK) die(rc, "append");
  }
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_end);
  clock_gettime(CLOCK_MONOTONIC, &end);
  double secs = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
  double cpu = (double)(cpu_end.tv_sec - cpu_start.tv_sec) + (double)(cpu_end.tv_nsec - cpu_start.tv_nsec) / 1e9;

  eoslog_buffer_free(batch);
  eoslog_batch_builder_free(builder);
  eoslog_partition_free(partition);
  TRY(eoslog_engine_close(engine), "close");
  eoslog_engine_free(engine);
  free(value);
  printf("c appends=%lld batch_bytes=%zu secs=%.6f cpu_secs=%.6f appends_per_sec=%.0f appends_per_cpu_sec=%.0f\n",
         appends, len, secs, cpu, (double)appends / secs, (double)appends / cpu);
  return 0;
}
