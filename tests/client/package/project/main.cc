// A user of the installed Cairn client package: writes a key, reads it back
// and prints what it read. Usage: outside_user HOST:PORT
#include <cstdio>
#include <memory>

#include "cairn/client/client.h"
#include "cairn/v1/admin.pb.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: outside_user HOST:PORT\n");
    return 2;
  }
  cairn::client::ClientOptions options;
  options.target = argv[1];
  auto client = cairn::client::Client::Connect(options);
  if (!client.ok()) {
    std::fprintf(stderr, "connect: %s\n", client.status().ToString().c_str());
    return 1;
  }
  auto seq = (*client)->Put("outside/key", "hello from outside");
  if (!seq.ok()) {
    std::fprintf(stderr, "put: %s\n", seq.status().ToString().c_str());
    return 1;
  }
  auto got = (*client)->Get("outside/key");
  if (!got.ok() || !got->found) {
    std::fprintf(stderr, "get failed\n");
    return 1;
  }
  auto stats = (*client)->Stats();
  if (!stats.ok()) {
    std::fprintf(stderr, "stats: %s\n", stats.status().ToString().c_str());
    return 1;
  }
  std::printf("value=%s revision=%llu last_seq=%llu\n", got->value.c_str(),
              static_cast<unsigned long long>(got->revision),
              static_cast<unsigned long long>(stats->last_seq()));
  return 0;
}
