/*
 * A tiny test harness for the C tests of libeoslog: checks that stop the program with a clear
 * message, a temporary data directory, and a fingerprint of a directory's files (to prove
 * that bad input changed nothing on disk).
 */
#ifndef EOSLOG_TEST_CHECK_H
#define EOSLOG_TEST_CHECK_H

/* nftw and mkdtemp under -std=c99; this header is included first. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eoslog.h"

static int checks_run = 0;

static inline void fail_here(const char *file, int line, const char *what) {
  char message[1024];
  eoslog_last_error_message(message, sizeof message);
  fprintf(stderr, "%s:%d: check failed: %s\n  last eoslog error: %s (%s)\n", file, line, what,
          eoslog_result_name(eoslog_last_error_code()), message);
  exit(1);
}

/* A condition that must hold. */
#define CHECK(cond)                                                                               \
  do {                                                                                            \
    checks_run++;                                                                                 \
    if (!(cond)) fail_here(__FILE__, __LINE__, #cond);                                           \
  } while (0)

/* A call that must succeed. */
#define CHECK_OK(call)                                                                            \
  do {                                                                                            \
    eoslog_result rc_ = (call);                                                                   \
    checks_run++;                                                                                 \
    if (rc_ != EOSLOG_RESULT_OK) {                                                                \
      fprintf(stderr, "returned %s (%d)\n", eoslog_result_name(rc_), (int)rc_);                   \
      fail_here(__FILE__, __LINE__, #call);                                                       \
    }                                                                                             \
  } while (0)

/* A call that must fail with `code` and leave a non-empty detail message. */
#define CHECK_RC(call, code)                                                                      \
  do {                                                                                            \
    eoslog_result rc_ = (call);                                                                   \
    checks_run++;                                                                                 \
    if (rc_ != (code)) {                                                                          \
      fprintf(stderr, "returned %s (%d), expected %s\n", eoslog_result_name(rc_), (int)rc_,       \
              eoslog_result_name(code));                                                          \
      fail_here(__FILE__, __LINE__, #call);                                                       \
    }                                                                                             \
    if (eoslog_last_error_code() != (code) || eoslog_last_error_message(NULL, 0) == 0)            \
      fail_here(__FILE__, __LINE__, "a failure records its code and a message: " #call);         \
  } while (0)

/* Prints "name: N checks passed" and returns 0: the end of a test program's main. */
static inline int pass(const char *name) {
  printf("%s: %d checks passed\n", name, checks_run);
  return 0;
}

/* The detail message of the last failure on this thread. */
static inline const char *last_message(void) {
  static char message[2048];
  eoslog_last_error_message(message, sizeof message);
  return message;
}

static inline int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* Removes a directory tree. */
static inline void remove_tree(const char *path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* Creates a fresh temporary directory under $TMPDIR (or /tmp); the caller removes it. */
static inline char *temp_dir(const char *name) {
  const char *base = getenv("TMPDIR");
  char *path = malloc(4096);
  CHECK(path != NULL);
  snprintf(path, 4096, "%s/eoslog-c-%s-XXXXXX", base && *base ? base : "/tmp", name);
  CHECK(mkdtemp(path) != NULL);
  return path;
}

static uint64_t fingerprint_acc;

static inline void fnv(const void *data, size_t len) {
  const unsigned char *p = (const unsigned char *)data;
  for (size_t i = 0; i < len; i++) {
    fingerprint_acc ^= p[i];
    fingerprint_acc *= 1099511628211ull;
  }
}

static inline int fingerprint_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)ftw;
  fnv(path, strlen(path));
  if (flag == FTW_F) {
    fnv(&sb->st_size, sizeof sb->st_size);
    FILE *f = fopen(path, "rb");
    if (f) {
      unsigned char buf[8192];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, f)) > 0) fnv(buf, n);
      fclose(f);
    }
  }
  return 0;
}

/*
 * A hash of every file name, size and content under `path` (in directory order, which is
 * stable while nothing is created or removed).
 */
static inline uint64_t dir_fingerprint(const char *path) {
  fingerprint_acc = 14695981039346656037ull;
  nftw(path, fingerprint_entry, 16, FTW_PHYS);
  return fingerprint_acc;
}

/* A path inside a directory. */
static inline const char *join(const char *dir, const char *name) {
  static char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

/* Opens an engine on `dir` with the default configuration (EOSLOG_IO picks the backend). */
static inline eoslog_engine *open_engine(const char *dir) {
  eoslog_engine *engine = NULL;
  CHECK_OK(eoslog_engine_open(dir, NULL, 0, &engine));
  CHECK(engine != NULL);
  return engine;
}

#endif
