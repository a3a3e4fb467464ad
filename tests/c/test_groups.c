/*
 * Consumer groups through the C ABI: eoslog_consumer_subscribe with rebalance callbacks (two
 * members share a 4-partition topic; the callbacks run on the polling thread and may commit,
 * but may not poll or free the consumer), eoslog_consumer_assignment, unsubscribe and free of
 * a subscribed consumer; KIP-447 fencing of a zombie whose group metadata predates a
 * rebalance; and bad input.
 *
 * Both members poll from this one thread, in turn: a join that one poll leaves parked in the
 * group coordinator is completed by that consumer's next poll.
 */
#include "check.h"

#include <pthread.h>
#include <time.h>

#define PARTITIONS 4
#define RECORDS_PER_PARTITION 2
/* A hang guard, not a timing assertion (Valgrind is slow). */
#define PATIENCE_S 120

static pthread_t main_thread;

/* What one member's callbacks saw. */
typedef struct {
  const char *name;
  int owned[PARTITIONS];
  int assigned_calls, revoked_calls, lost_calls, nonempty_assigned;
  /* Anything a callback found wrong (a partition owned twice, a bad array, the wrong thread). */
  int bad;
  /* Results of calls made from inside the callbacks. */
  eoslog_result poll_rc, free_rc, commit_rc;
  int commits;
} member;

static int owned_count(const member *m) {
  int n = 0;
  for (int p = 0; p < PARTITIONS; p++) n += m->owned[p];
  return n;
}

/* Checks a callback's arguments and marks its partitions owned (1) or not (0). */
static void mark(member *m, const eoslog_topic_partition *tps, size_t n, int owned) {
  if (!pthread_equal(pthread_self(), main_thread)) m->bad++;
  if ((n == 0) != (tps == NULL)) m->bad++;
  for (size_t i = 0; i < n; i++) {
    int32_t p = tps[i].partition;
    if (strcmp(tps[i].topic, "in") != 0 || p < 0 || p >= PARTITIONS || m->owned[p] == owned) {
      m->bad++;
      continue;
    }
    m->owned[p] = owned;
  }
}

static void on_assigned(void *userdata, const eoslog_consumer *c, const eoslog_topic_partition *tps,
                        size_t n) {
  member *m = (member *)userdata;
  mark(m, tps, n, 1);
  m->assigned_calls++;
  if (n > 0) m->nonempty_assigned++;
  /* The consumer may be used here, but not polled or freed. */
  eoslog_topic_partition_list *list = NULL;
  if (eoslog_consumer_assignment(c, &list) != EOSLOG_RESULT_OK) m->bad++;
  eoslog_topic_partition_list_free(list);
  eoslog_message_set *set = NULL;
  m->poll_rc = eoslog_consumer_poll(c, 0, &set);
  if (set != NULL) m->bad++;
  m->free_rc = eoslog_consumer_free((eoslog_consumer *)c);
}

static void on_revoked(void *userdata, const eoslog_consumer *c, const eoslog_topic_partition *tps,
                       size_t n) {
  member *m = (member *)userdata;
  /* The last chance to commit what was consumed from them (the generation is still valid). */
  m->commit_rc = eoslog_consumer_commit(c, NULL, 0);
  m->commits++;
  mark(m, tps, n, 0);
  m->revoked_calls++;
}

static void on_lost(void *userdata, const eoslog_consumer *c, const eoslog_topic_partition *tps, size_t n) {
  member *m = (member *)userdata;
  (void)c;
  mark(m, tps, n, 0);
  m->lost_calls++;
}

static eoslog_rebalance_callbacks callbacks_of(member *m) {
  eoslog_rebalance_callbacks cb;
  cb.on_partitions_revoked = on_revoked;
  cb.on_partitions_assigned = on_assigned;
  cb.on_partitions_lost = on_lost;
  cb.userdata = m;
  return cb;
}

static eoslog_engine *open_group_engine(const char *dir) {
  /* A new group assigns at once instead of waiting 3 s for more members. */
  eoslog_config_pair config[] = {{"durability", "none"}, {"group.initial.rebalance.delay.ms", "0"}};
  eoslog_engine *engine = NULL;
  CHECK_OK(eoslog_engine_open(dir, config, 2, &engine));
  return engine;
}

static eoslog_consumer *group_consumer(const eoslog_engine *engine, const char *group) {
  eoslog_config_pair config[] = {{"group.id", group}, {"auto.offset.reset", "earliest"}};
  eoslog_consumer *c = NULL;
  CHECK_OK(eoslog_consumer_new(engine, config, 2, &c));
  return c;
}

static void subscribe(const eoslog_consumer *c, const eoslog_rebalance_callbacks *cb) {
  const char *topics[] = {"in"};
  CHECK_OK(eoslog_consumer_subscribe(c, topics, 1, cb));
}

/* Every record seen, by partition and offset, to find duplicates. */
static int seen[PARTITIONS][RECORDS_PER_PARTITION];
static int seen_total, duplicates;

static void poll_once(const eoslog_consumer *c) {
  eoslog_message_set *set = NULL;
  CHECK_OK(eoslog_consumer_poll(c, 20, &set));
  for (size_t i = 0; i < eoslog_message_set_len(set); i++) {
    eoslog_message m;
    CHECK_OK(eoslog_message_set_get(set, i, &m));
    CHECK(m.partition >= 0 && m.partition < PARTITIONS && m.offset >= 0 && m.offset < RECORDS_PER_PARTITION);
    if (seen[m.partition][m.offset]++) duplicates++;
    seen_total++;
  }
  CHECK_OK(eoslog_message_set_free(set));
}

/* The consumer's assignment as a bitmap of "in" partitions; -1 if it holds anything else. */
static int assignment_bits(const eoslog_consumer *c) {
  eoslog_topic_partition_list *list = NULL;
  CHECK_OK(eoslog_consumer_assignment(c, &list));
  int bits = 0;
  for (size_t i = 0; i < eoslog_topic_partition_list_len(list); i++) {
    eoslog_topic_partition tp;
    CHECK_OK(eoslog_topic_partition_list_get(list, i, &tp));
    if (strcmp(tp.topic, "in") != 0 || tp.partition < 0 || tp.partition >= PARTITIONS) bits = -1;
    if (bits >= 0) bits |= 1 << tp.partition;
  }
  CHECK_OK(eoslog_topic_partition_list_free(list));
  return bits;
}

static int bits_of(const member *m) {
  int bits = 0;
  for (int p = 0; p < PARTITIONS; p++) bits |= m->owned[p] << p;
  return bits;
}

static void seed(const eoslog_engine *engine) {
  CHECK_OK(eoslog_engine_create_topic(engine, "in", PARTITIONS, NULL, 0));
  eoslog_producer *p = NULL;
  CHECK_OK(eoslog_producer_new(engine, NULL, 0, &p));
  for (int partition = 0; partition < PARTITIONS; partition++) {
    for (int i = 0; i < RECORDS_PER_PARTITION; i++) {
      eoslog_producer_record r;
      memset(&r, 0, sizeof r);
      r.topic = "in";
      r.partition = partition;
      r.timestamp = -1;
      r.value = (const uint8_t *)"v";
      r.value_len = 1;
      CHECK_OK(eoslog_producer_send(p, &r, NULL));
    }
  }
  CHECK_OK(eoslog_producer_flush(p));
  CHECK_OK(eoslog_producer_free(p));
}

static int both_own_some(const member *a, const member *b) {
  return owned_count(a) > 0 && owned_count(b) > 0 && owned_count(a) + owned_count(b) == PARTITIONS;
}

/* Two members of one group share the topic's 4 partitions through their callbacks. */
static void two_members(const char *dir) {
  eoslog_engine *engine = open_group_engine(dir);
  seed(engine);
  member ma, mb;
  memset(&ma, 0, sizeof ma);
  memset(&mb, 0, sizeof mb);
  ma.name = "A";
  mb.name = "B";
  eoslog_consumer *a = group_consumer(engine, "readers");
  eoslog_consumer *b = group_consumer(engine, "readers");
  eoslog_rebalance_callbacks cba = callbacks_of(&ma), cbb = callbacks_of(&mb);
  subscribe(a, &cba);
  subscribe(b, &cbb);
  CHECK(assignment_bits(a) == 0); /* nothing before the first poll joins */

  time_t give_up = time(NULL) + PATIENCE_S;
  while (!(both_own_some(&ma, &mb) && seen_total >= PARTITIONS * RECORDS_PER_PARTITION)) {
    CHECK(time(NULL) < give_up);
    poll_once(a);
    poll_once(b);
  }
  CHECK(ma.bad == 0 && mb.bad == 0);
  CHECK((bits_of(&ma) & bits_of(&mb)) == 0);
  CHECK((bits_of(&ma) | bits_of(&mb)) == (1 << PARTITIONS) - 1); /* the union is every partition */
  CHECK(assignment_bits(a) == bits_of(&ma));                    /* callbacks agree with assignment */
  CHECK(assignment_bits(b) == bits_of(&mb));
  CHECK(ma.nonempty_assigned > 0 && mb.nonempty_assigned > 0);
  CHECK(ma.poll_rc == EOSLOG_RESULT_INVALID_REQUEST && mb.poll_rc == EOSLOG_RESULT_INVALID_REQUEST);
  CHECK(ma.free_rc == EOSLOG_RESULT_INVALID_REQUEST && mb.free_rc == EOSLOG_RESULT_INVALID_REQUEST);
  /* Both members poll all the time, so neither ever loses its partitions, and a partition that
   * moved was committed in its revocation: no record is read twice. */
  CHECK(ma.commits == 0 || ma.commit_rc == EOSLOG_RESULT_OK);
  CHECK(seen_total >= PARTITIONS * RECORDS_PER_PARTITION);
  CHECK(duplicates == 0 && ma.lost_calls == 0 && mb.lost_calls == 0);

  /* B is freed while subscribed: its partitions are revoked inside the free, through its
   * callback (which can still use the handle and commit), and A gets them all. */
  int revoked_before = mb.revoked_calls;
  CHECK_OK(eoslog_consumer_free(b));
  CHECK(mb.revoked_calls == revoked_before + 1 && owned_count(&mb) == 0 && mb.bad == 0);
  CHECK(mb.commit_rc == EOSLOG_RESULT_OK);
  give_up = time(NULL) + PATIENCE_S;
  while (owned_count(&ma) != PARTITIONS) {
    CHECK(time(NULL) < give_up);
    poll_once(a);
  }
  CHECK(assignment_bits(a) == (1 << PARTITIONS) - 1 && ma.bad == 0);
  CHECK(duplicates == 0 && ma.lost_calls == 0 && mb.lost_calls == 0);

  /* Unsubscribing revokes too; then the consumer may be assigned by hand. */
  CHECK_OK(eoslog_consumer_unsubscribe(a));
  CHECK(owned_count(&ma) == 0 && assignment_bits(a) == 0);
  eoslog_topic_partition tp = {"in", 0};
  CHECK_OK(eoslog_consumer_assign(a, &tp, 1));
  CHECK(assignment_bits(a) == 1);
  CHECK_OK(eoslog_consumer_free(a));
  CHECK_OK(eoslog_engine_close(engine));
  CHECK_OK(eoslog_engine_free(engine));
}

static int32_t generation_of(const eoslog_group_metadata *g) {
  eoslog_group_metadata_info info;
  CHECK_OK(eoslog_group_metadata_get_info(g, &info));
  CHECK(strcmp(info.group_id, "copier") == 0 && info.group_instance_id == NULL);
  CHECK((info.generation_id < 0) == (info.member_id[0] == '\0'));
  return info.generation_id;
}

/* A zombie: group metadata taken before a rebalance cannot commit a transaction's offsets. */
static void zombie(const char *dir) {
  eoslog_engine *engine = open_group_engine(dir);
  CHECK_OK(eoslog_engine_create_topic(engine, "in", PARTITIONS, NULL, 0));
  CHECK_OK(eoslog_engine_create_topic(engine, "out", 1, NULL, 0));
  eoslog_consumer *a = group_consumer(engine, "copier");
  eoslog_consumer *b = group_consumer(engine, "copier");
  subscribe(a, NULL); /* no callbacks at all */
  time_t give_up = time(NULL) + PATIENCE_S;
  while (assignment_bits(a) != (1 << PARTITIONS) - 1) {
    CHECK(time(NULL) < give_up);
    poll_once(a);
  }
  eoslog_group_metadata *stale = NULL;
  CHECK_OK(eoslog_consumer_group_metadata(a, &stale));
  int32_t stale_generation = generation_of(stale);
  CHECK(stale_generation >= 1);

  /* B joins (with a callbacks struct whose members are all NULL): partitions move. */
  eoslog_rebalance_callbacks none = {NULL, NULL, NULL, NULL};
  subscribe(b, &none);
  give_up = time(NULL) + PATIENCE_S;
  for (;;) {
    int bits_a = assignment_bits(a), bits_b = assignment_bits(b);
    if (bits_a > 0 && bits_b > 0 && (bits_a | bits_b) == (1 << PARTITIONS) - 1 && (bits_a & bits_b) == 0) break;
    CHECK(time(NULL) < give_up);
    poll_once(a);
    poll_once(b);
  }
  eoslog_group_metadata *fresh = NULL;
  CHECK_OK(eoslog_consumer_group_metadata(a, &fresh));
  CHECK(generation_of(fresh) > stale_generation);
  CHECK(generation_of(stale) == stale_generation); /* a snapshot */
  int32_t mine = 0;
  while (!(assignment_bits(a) & (1 << mine))) mine++;

  eoslog_producer *p = NULL;
  eoslog_config_pair config[] = {{"transactional.id", "copier-a"}};
  CHECK_OK(eoslog_producer_new(engine, config, 1, &p));
  CHECK_OK(eoslog_producer_init_transactions(p));
  eoslog_producer_record r;
  memset(&r, 0, sizeof r);
  r.topic = "out";
  r.partition = 0;
  r.timestamp = -1;
  r.value = (const uint8_t *)"zombie";
  r.value_len = 6;
  eoslog_topic_partition_offset offsets[] = {{"in", mine, 1, NULL}};

  /* The zombie's transaction: its offsets are refused, so it can only abort. */
  CHECK_OK(eoslog_producer_begin_transaction(p));
  CHECK_OK(eoslog_producer_send(p, &r, NULL));
  eoslog_result rc = eoslog_producer_send_offsets_to_transaction(p, offsets, 1, stale);
  CHECK(rc == EOSLOG_RESULT_ILLEGAL_GENERATION || rc == EOSLOG_RESULT_UNKNOWN_MEMBER_ID);
  CHECK(eoslog_last_error_code() == rc && eoslog_last_error_message(NULL, 0) > 0);
  CHECK_RC(eoslog_producer_commit_transaction(p), EOSLOG_RESULT_TRANSACTION_ABORTABLE);
  CHECK_OK(eoslog_producer_abort_transaction(p));
  int64_t committed = 0;
  CHECK_OK(eoslog_consumer_committed(a, "in", mine, &committed));
  CHECK(committed == -1);

  /* The same producer with the member's current metadata commits. */
  r.value = (const uint8_t *)"member";
  CHECK_OK(eoslog_producer_begin_transaction(p));
  CHECK_OK(eoslog_producer_send(p, &r, NULL));
  CHECK_OK(eoslog_producer_send_offsets_to_transaction(p, offsets, 1, fresh));
  CHECK_OK(eoslog_producer_commit_transaction(p));
  CHECK_OK(eoslog_consumer_committed(a, "in", mine, &committed));
  CHECK(committed == 1);

  /* Group-id-only metadata is not fenced by generation: accepted even though the group has
   * members (only the producer's epoch protects such a transaction). */
  eoslog_group_metadata *simple = NULL;
  CHECK_OK(eoslog_group_metadata_new("copier", &simple));
  CHECK(generation_of(simple) == -1);
  CHECK_OK(eoslog_producer_begin_transaction(p));
  CHECK_OK(eoslog_producer_send_offsets_to_transaction(p, offsets, 1, simple));
  CHECK_OK(eoslog_producer_abort_transaction(p));
  CHECK_OK(eoslog_group_metadata_free(simple));

  CHECK_OK(eoslog_group_metadata_free(stale));
  CHECK_OK(eoslog_group_metadata_free(fresh));
  CHECK_OK(eoslog_producer_free(p));
  CHECK_OK(eoslog_consumer_free(a));
  CHECK_OK(eoslog_consumer_free(b));
  CHECK_OK(eoslog_engine_close(engine));
  CHECK_OK(eoslog_engine_free(engine));
}

static void bad_input(const char *dir) {
  eoslog_engine *engine = open_group_engine(dir);
  CHECK_OK(eoslog_engine_create_topic(engine, "in", 2, NULL, 0));
  eoslog_consumer *c = group_consumer(engine, "g");
  const char *good[] = {"in"};
  const char *with_null[] = {"in", NULL};
  const char *illegal[] = {"no spaces"};
  const char *not_utf8[] = {"\xff"};

  CHECK_RC(eoslog_consumer_subscribe(NULL, good, 1, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_consumer_subscribe(c, NULL, 1, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_consumer_subscribe(c, NULL, 0, NULL), EOSLOG_RESULT_INVALID_ARGUMENT);
  CHECK_RC(eoslog_consumer_subscribe(c, good, 0, NULL), EOSLOG_RESULT_INVALID_ARGUMENT);
  CHECK_RC(eoslog_consumer_subscribe(c, with_null, 2, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_consumer_subscribe(c, illegal, 1, NULL), EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION);
  CHECK_RC(eoslog_consumer_subscribe(c, not_utf8, 1, NULL), EOSLOG_RESULT_INVALID_UTF8);
  CHECK_RC(eoslog_consumer_subscribe(c, good, (size_t)EOSLOG_MAX_ARRAY_LEN + 1, NULL),
           EOSLOG_RESULT_LENGTH_TOO_LARGE);
  CHECK(assignment_bits(c) == 0);

  /* Wrong handle types. */
  CHECK_RC(eoslog_consumer_subscribe((const eoslog_consumer *)engine, good, 1, NULL),
           EOSLOG_RESULT_INVALID_HANDLE);
  CHECK_RC(eoslog_consumer_unsubscribe((const eoslog_consumer *)engine), EOSLOG_RESULT_INVALID_HANDLE);

  /* assign and subscribe are exclusive. */
  eoslog_topic_partition tp = {"in", 0};
  CHECK_OK(eoslog_consumer_assign(c, &tp, 1));
  CHECK_RC(eoslog_consumer_subscribe(c, good, 1, NULL), EOSLOG_RESULT_INVALID_REQUEST);
  CHECK_OK(eoslog_consumer_unsubscribe(c));
  CHECK_OK(eoslog_consumer_subscribe(c, good, 1, NULL)); /* NULL callbacks are allowed */
  CHECK_RC(eoslog_consumer_assign(c, &tp, 1), EOSLOG_RESULT_INVALID_REQUEST);
  /* Subscribing again replaces the topics and callbacks. */
  eoslog_rebalance_callbacks none = {NULL, NULL, NULL, NULL};
  CHECK_OK(eoslog_consumer_subscribe(c, good, 1, &none));

  /* No group.id: nothing to subscribe with. */
  eoslog_consumer *lone = NULL;
  CHECK_OK(eoslog_consumer_new(engine, NULL, 0, &lone));
  CHECK_RC(eoslog_consumer_subscribe(lone, good, 1, NULL), EOSLOG_RESULT_INVALID_GROUP_ID);
  eoslog_group_metadata *g = NULL;
  CHECK_RC(eoslog_consumer_group_metadata(lone, &g), EOSLOG_RESULT_INVALID_GROUP_ID);
  CHECK(g == NULL); /* outputs are written only on success */

  /* Assignment lists. */
  eoslog_topic_partition_list *list = NULL;
  CHECK_RC(eoslog_consumer_assignment(NULL, &list), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_consumer_assignment(c, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK(list == NULL);
  CHECK_OK(eoslog_consumer_assignment(c, &list));
  eoslog_topic_partition out;
  CHECK_RC(eoslog_topic_partition_list_get(list, 0, &out), EOSLOG_RESULT_INVALID_ARGUMENT);
  CHECK_RC(eoslog_topic_partition_list_get(list, 0, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_topic_partition_list_get(NULL, 0, &out), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK(eoslog_topic_partition_list_len(NULL) == 0);
  CHECK(eoslog_topic_partition_list_len((const eoslog_topic_partition_list *)c) == 0);
  CHECK(eoslog_last_error_code() == EOSLOG_RESULT_INVALID_HANDLE);
  CHECK_OK(eoslog_topic_partition_list_free(list));
  CHECK_RC(eoslog_topic_partition_list_free(list), EOSLOG_RESULT_INVALID_HANDLE);
  CHECK_OK(eoslog_topic_partition_list_free(NULL));

  /* Group metadata. */
  CHECK_RC(eoslog_consumer_group_metadata(c, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_consumer_group_metadata(NULL, &g), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_OK(eoslog_consumer_group_metadata(c, &g));
  eoslog_group_metadata_info info;
  CHECK_OK(eoslog_group_metadata_get_info(g, &info));
  CHECK(info.generation_id == -1 && info.member_id[0] == '\0'); /* not joined before a poll */
  eoslog_producer *p = NULL;
  eoslog_config_pair config[] = {{"transactional.id", "bad-input"}};
  CHECK_OK(eoslog_producer_new(engine, config, 1, &p));
  CHECK_OK(eoslog_producer_init_transactions(p));
  CHECK_OK(eoslog_producer_begin_transaction(p));
  eoslog_topic_partition_offset offsets[] = {{"in", 0, 0, NULL}};
  CHECK_RC(eoslog_producer_send_offsets_to_transaction(p, offsets, 1, NULL), EOSLOG_RESULT_NULL_PARAMETER);
  CHECK_RC(eoslog_producer_send_offsets_to_transaction(p, offsets, 1, (const eoslog_group_metadata *)c),
           EOSLOG_RESULT_INVALID_HANDLE);
  CHECK_OK(eoslog_producer_abort_transaction(p));
  CHECK_OK(eoslog_group_metadata_free(g));
  CHECK_RC(eoslog_group_metadata_free(g), EOSLOG_RESULT_INVALID_HANDLE);

  /* After close: the consumer refuses subscribe and unsubscribe, and is still freed once. */
  CHECK_OK(eoslog_consumer_close(c));
  CHECK_RC(eoslog_consumer_subscribe(c, good, 1, NULL), EOSLOG_RESULT_INVALID_REQUEST);
  CHECK_RC(eoslog_consumer_unsubscribe(c), EOSLOG_RESULT_INVALID_REQUEST);
  CHECK_OK(eoslog_consumer_free(c));
  CHECK_RC(eoslog_consumer_free(c), EOSLOG_RESULT_INVALID_HANDLE);
  CHECK_OK(eoslog_consumer_free(lone));
  CHECK_OK(eoslog_producer_free(p));
  /* After the engine is closed, every consumer call but free is CLOSED. */
  eoslog_consumer *late = group_consumer(engine, "g");
  CHECK_OK(eoslog_engine_close(engine));
  CHECK_RC(eoslog_consumer_subscribe(late, good, 1, NULL), EOSLOG_RESULT_CLOSED);
  CHECK_RC(eoslog_consumer_assignment(late, &list), EOSLOG_RESULT_CLOSED);
  CHECK_OK(eoslog_consumer_free(late));
  CHECK_OK(eoslog_engine_free(engine));
}

int main(void) {
  main_thread = pthread_self();
  char *dir = temp_dir("groups");
  char path[4096];
  snprintf(path, sizeof path, "%s/two", dir);
  two_members(path);
  snprintf(path, sizeof path, "%s/zombie", dir);
  zombie(path);
  snprintf(path, sizeof path, "%s/bad", dir);
  bad_input(path);
  remove_tree(dir);
  free(dir);
  return pass("test_groups");
}
