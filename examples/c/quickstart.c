/*
 * The C quick start of ffi-c/README.md: open a data directory, create a topic, write three
 * records with an idempotent producer, read them back read_committed, close.
 *
 *   cc quickstart.c -o quickstart $(pkg-config --cflags --libs eoslog)
 *   ./quickstart quickstart-data
 */
#include <stdio.h>

#include "eoslog.h"

static int check(eoslog_result rc, const char *what) {
  if (rc == EOSLOG_RESULT_OK) return 1;
  char message[512];
  eoslog_last_error_message(message, sizeof message);
  fprintf(stderr, "%s: %s: %s\n", what, eoslog_result_name(rc), message);
  return 0;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "quickstart-data";
  eoslog_engine *engine = NULL;
  eoslog_producer *producer = NULL;
  eoslog_consumer *consumer = NULL;
  eoslog_message_set *messages = NULL;
  int ok = 0, read = 0;

  eoslog_config_pair config[] = {{"durability", "always"}};
  if (!check(eoslog_engine_open(dir, config, 1, &engine), "open")) goto done;
  eoslog_result rc = eoslog_engine_create_topic(engine, "greetings", 1, NULL, 0);
  if (rc != EOSLOG_RESULT_TOPIC_ALREADY_EXISTS && !check(rc, "create topic")) goto done;

  /* An idempotent producer: a retried send is never written twice. */
  if (!check(eoslog_producer_new(engine, NULL, 0, &producer), "producer")) goto done;
  const char *words[] = {"hello", "from", "C"};
  for (int i = 0; i < 3; i++) {
    eoslog_producer_record record = {"greetings", 0, -1, NULL, 0, (const uint8_t *)words[i], 0, NULL, 0};
    while (words[i][record.value_len]) record.value_len++;
    eoslog_record_metadata where;
    if (!check(eoslog_producer_send_sync(producer, &record, &where), "send")) goto done;
    printf("wrote \"%s\" at offset %lld\n", words[i], (long long)where.offset);
  }

  /* A read_committed consumer, from the beginning. */
  eoslog_config_pair consumer_config[] = {{"group.id", "quickstart"}, {"auto.offset.reset", "earliest"}};
  if (!check(eoslog_consumer_new(engine, consumer_config, 2, &consumer), "consumer")) goto done;
  eoslog_topic_partition partition = {"greetings", 0};
  if (!check(eoslog_consumer_assign(consumer, &partition, 1), "assign")) goto done;
  for (;;) {
    if (!check(eoslog_consumer_poll(consumer, 500, &messages), "poll")) goto done;
    size_t n = eoslog_message_set_len(messages);
    for (size_t i = 0; i < n; i++) {
      eoslog_message m;
      if (!check(eoslog_message_set_get(messages, i, &m), "message")) goto done;
      printf("read  \"%.*s\" at offset %lld\n", (int)m.value_len, (const char *)m.value, (long long)m.offset);
      read++;
    }
    eoslog_message_set_free(messages);
    messages = NULL;
    if (n == 0) break;
  }
  if (!check(eoslog_consumer_commit(consumer, NULL, 0), "commit")) goto done;
  ok = read >= 3;

done:
  eoslog_message_set_free(messages);
  eoslog_consumer_free(consumer);
  eoslog_producer_free(producer);
  if (engine != NULL && !check(eoslog_engine_close(engine), "close")) ok = 0;
  eoslog_engine_free(engine);
  return ok ? 0 : 1;
}
