// The header compiles as C++ (extern "C", enums with a fixed int32_t type) and a C++ program
// links and runs against libeoslog.
#include "eoslog.h"

#include <cstdio>
#include <cstring>
#include <string>

int main() {
  if (std::string(eoslog_version()) != EOSLOG_VERSION_STRING) return 1;
  eoslog_result rc = eoslog_engine_open(nullptr, nullptr, 0, nullptr);
  if (rc != EOSLOG_RESULT_NULL_PARAMETER) return 2;
  if (std::strcmp(eoslog_result_name(rc), "NULL_PARAMETER") != 0) return 3;
  eoslog_batch_builder *builder = nullptr;
  if (eoslog_batch_builder_new(&builder) != EOSLOG_RESULT_OK) return 4;
  const char value[] = "from C++";
  if (eoslog_batch_builder_append(builder, 1, nullptr, 0, reinterpret_cast<const uint8_t *>(value),
                                  sizeof value - 1, nullptr, 0) != EOSLOG_RESULT_OK)
    return 5;
  eoslog_buffer *batch = nullptr;
  if (eoslog_batch_builder_build(builder, &batch) != EOSLOG_RESULT_OK) return 6;
  if (eoslog_batch_validate(eoslog_buffer_data(batch), eoslog_buffer_len(batch)) != EOSLOG_RESULT_OK)
    return 7;
  eoslog_buffer_free(batch);
  eoslog_batch_builder_free(builder);
  std::printf("header_cpp: 7 checks passed\n");
  return 0;
}
