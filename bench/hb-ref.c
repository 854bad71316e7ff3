/*
 * The floor under a quorum heartbeat (bench/quorum.ts, "heartbeat CPU"): the same exchange
 * as vigil's heartbeats with nothing else. Two of these, one per lab namespace, each send
 * a 68-byte UDP datagram to the other every interval and read the other's; with
 * -DHB_HMAC (OpenSSL's libcrypto) each datagram carries an HMAC-SHA256 over its first 36
 * bytes, computed on send and checked on receipt, as vigil's heartbeat does.
 *
 * One thread, one epoll: a timerfd (CLOCK_MONOTONIC, periodic) and the UDP socket. So a
 * heartbeat costs two wake-ups, one sendto and one recvfrom, as it would in a small C
 * daemon. Compiled by the bench at run time (cc -O2), never by the build or the tests.
 *
 * usage: hb-ref LOCAL_IPV4 PEER_IPV4 PORT INTERVAL_MS
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#ifdef HB_HMAC
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif

#define LENGTH 68
#define SIGNED 36

static void die(const char *what) {
  fprintf(stderr, "hb-ref: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: hb-ref LOCAL_IPV4 PEER_IPV4 PORT INTERVAL_MS\n");
    return 2;
  }
  struct sockaddr_in local = {0}, peer = {0};
  local.sin_family = peer.sin_family = AF_INET;
  local.sin_port = peer.sin_port = htons((uint16_t)atoi(argv[3]));
  if (inet_pton(AF_INET, argv[1], &local.sin_addr) != 1 || inet_pton(AF_INET, argv[2], &peer.sin_addr) != 1) {
    fprintf(stderr, "hb-ref: bad address %s or %s\n", argv[1], argv[2]);
    return 2;
  }
  long intervalMs = atol(argv[4]);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) die("bind");
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (tfd < 0) die("timerfd_create");
  struct itimerspec its = {{intervalMs / 1000, (intervalMs % 1000) * 1000000L}, {intervalMs / 1000, (intervalMs % 1000) * 1000000L}};
  if (timerfd_settime(tfd, 0, &its, NULL) < 0) die("timerfd_settime");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
  ev.data.fd = tfd;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0) die("epoll_ctl");

  unsigned char out[LENGTH] = {'V', 'G', 'H', 'B', 1}, in[2048];
#ifdef HB_HMAC
  static const unsigned char key[32] = "vigil bench reference key 32 b!";
#endif
  uint64_t sequence = 0, rejected = 0;
  for (;;) {
    struct epoll_event events[2];
    int n = epoll_wait(ep, events, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      if (events[i].data.fd == tfd) {
        uint64_t expirations;
        if (read(tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("read timerfd");
        sequence++;
        for (int b = 0; b < 8; b++) out[24 + b] = (unsigned char)(sequence >> (56 - 8 * b));
#ifdef HB_HMAC
        unsigned int macLength = 32;
        HMAC(EVP_sha256(), key, sizeof key, out, SIGNED, out + SIGNED, &macLength);
#endif
        if (sendto(fd, out, LENGTH, 0, (struct sockaddr *)&peer, sizeof peer) < 0 && errno != EAGAIN) die("sendto");
      } else {
        for (;;) {
          ssize_t got = recvfrom(fd, in, sizeof in, 0, NULL, NULL);
          if (got < 0) {
            if (errno == EAGAIN) break;
            die("recvfrom");
          }
#ifdef HB_HMAC
          unsigned char mac[32];
          unsigned int macLength = 32;
          HMAC(EVP_sha256(), key, sizeof key, in, SIGNED, mac, &macLength);
          if (got != LENGTH || CRYPTO_memcmp(mac, in + SIGNED, 32) != 0) rejected++;
#endif
        }
      }
    }
  }
  (void)rejected;
}
