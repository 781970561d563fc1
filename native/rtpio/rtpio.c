/*
 * rtpio: batched UDP I/O for the plain-RTP endpoints of one thread (a media worker).
 *
 * Why native: Node's dgram pays per datagram a JS->C++ call, a send request object, a 64 KiB
 * receive allocation shrunk per packet, a Buffer, a rinfo object and an event emit. At a few
 * hundred mixed participants (50 packets/s each way) that is a third of a media thread's time
 * and most of its garbage, and every young-generation collection stalls every room of the thread
 * for milliseconds. No maintained npm package does batched UDP I/O (several sockets per wake-up,
 * one call per batch of sends), so this file does only that and nothing else: bind, close, one
 * epoll set per thread drained into a caller-owned buffer with one JS callback per batch, and a
 * send loop over a caller-filled batch. Socket policy (latching, RTCP, stats) stays in TypeScript.
 *
 * Layout shared with src/media/rtp/udp-io.ts: a packet descriptor is RTPIO_STRIDE int32 words:
 *   [0] tag (receive) / fd (send)  [1] byte offset in the buffer  [2] length (send: -errno after)
 *   [3] port  [4] family (4 or 6)  [5..8] address: IPv4 in [5] (network order bytes as uint32
 *   a<<24|b<<16|c<<8|d), IPv6 as four such words  [9..10] receive: the kernel's arrival time
 *   (CLOCK_REALTIME seconds, nanoseconds) on sockets bound with timestamps, else 0, 0.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RTPIO_STRIDE 11
#define MAX_DATAGRAM 65536
#define EVENTS_PER_WAIT 64
#define READS_PER_FD 8
#define ROUNDS_PER_WAKE 8

typedef struct {
  napi_env env;
  int epfd;
  int watched;
  int polling;
  uv_poll_t *poll;
  napi_ref recv_buf;
  napi_ref meta;
  napi_ref callback;
  napi_async_context async;
  uint8_t *buf;
  size_t buf_len;
  int32_t *meta_words;
  size_t meta_packets;
  /* Every socket bound here and not yet closed: a thread that ends (a worker that dies) closes them. */
  int *fds;
  size_t nfds;
  size_t cap;
} rtpio_state;

static int track(rtpio_state *st, int fd) {
  if (st->nfds == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 64;
    int *grown = realloc(st->fds, cap * sizeof(int));
    if (grown == NULL) return -1;
    st->fds = grown;
    st->cap = cap;
  }
  st->fds[st->nfds++] = fd;
  return 0;
}

static void untrack(rtpio_state *st, int fd) {
  for (size_t i = 0; i < st->nfds; i++) {
    if (st->fds[i] == fd) {
      st->fds[i] = st->fds[--st->nfds];
      return;
    }
  }
}

#define CHECK(env, call)                                     \
  do {                                                       \
    if ((call) != napi_ok) {                                 \
      napi_throw_error((env), "ERR_RTPIO", #call " failed"); \
      return NULL;                                           \
    }                                                        \
  } while (0)

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

static rtpio_state *state_of(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return (rtpio_state *)data;
}

static void put_address(int32_t *w, const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    w[3] = ntohs(a->sin_port);
    w[4] = 4;
    w[5] = (int32_t)ntohl(a->sin_addr.s_addr);
    w[6] = w[7] = w[8] = 0;
  } else {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    w[3] = ntohs(a->sin6_port);
    w[4] = 6;
    for (int i = 0; i < 4; i++) {
      uint32_t word;
      memcpy(&word, a->sin6_addr.s6_addr + 4 * i, 4);
      w[5 + i] = (int32_t)ntohl(word);
    }
  }
}

static socklen_t get_address(const int32_t *w, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (w[4] == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)w[3]);
    a->sin_addr.s_addr = htonl((uint32_t)w[5]);
    return sizeof(*a);
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons((uint16_t)w[3]);
  for (int i = 0; i < 4; i++) {
    uint32_t word = htonl((uint32_t)w[5 + i]);
    memcpy(a->sin6_addr.s6_addr + 4 * i, &word, 4);
  }
  return sizeof(*a);
}

/*
 * Hands `count` packets to JS. Returns 0, or -1 when JS could not run: the thread is stopping, or
 * the batch handler itself threw (it catches its handlers' errors), and the batch is dropped.
 */
static int deliver(rtpio_state *st, uint32_t count) {
  napi_env env = st->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return -1;
  napi_value cb, recv, arg, result;
  int rc = -1;
  if (napi_create_uint32(env, count, &arg) == napi_ok && napi_get_reference_value(env, st->callback, &cb) == napi_ok &&
      cb != NULL && napi_get_global(env, &recv) == napi_ok) {
    napi_status s = napi_make_callback(env, st->async, recv, cb, 1, &arg, &result);
    if (s == napi_ok) {
      rc = 0;
    } else {
      bool pending = false;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
        napi_value err;
        napi_get_and_clear_last_exception(env, &err);
      }
    }
  }
  napi_close_handle_scope(env, scope);
  return rc;
}

/*
 * Reads one datagram of `fd` into st->buf at `off` and describes it in `w`. Returns its length,
 * 0 for one that is not kept (not IPv4/IPv6), or -1 when the socket has nothing more (EAGAIN, or
 * an error, none expected on a bound UDP socket).
 */
static ssize_t read_datagram(rtpio_state *st, int fd, int32_t tag, size_t off, int32_t *w) {
  struct sockaddr_storage ss;
  struct iovec iov = {st->buf + off, MAX_DATAGRAM};
  char control[CMSG_SPACE(sizeof(struct timespec))];
  struct msghdr mh;
  memset(&mh, 0, sizeof(mh));
  mh.msg_name = &ss;
  mh.msg_namelen = sizeof(ss);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  ssize_t got;
  do {
    got = recvmsg(fd, &mh, MSG_DONTWAIT);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return -1;
  if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) return 0;
  w[0] = tag;
  w[1] = (int32_t)off;
  w[2] = (int32_t)got;
  put_address(w, &ss);
  w[9] = w[10] = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      struct timespec ts;
      memcpy(&ts, CMSG_DATA(c), sizeof(ts));
      w[9] = (int32_t)(uint32_t)ts.tv_sec;
      w[10] = (int32_t)ts.tv_nsec;
    }
  }
  return got;
}

/*
 * The epoll set became readable: in rounds, read up to READS_PER_FD datagrams of every ready
 * socket (fair to all) while the buffers have room, then hand the round to JS in one call.
 */
static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  rtpio_state *st = (rtpio_state *)handle->data;
  if (status < 0 || st == NULL) return;
  struct epoll_event evs[EVENTS_PER_WAIT];
  for (int round = 0; round < ROUNDS_PER_WAKE; round++) {
    int n = epoll_wait(st->epfd, evs, EVENTS_PER_WAIT, 0);
    if (n <= 0) return;
    uint32_t count = 0;
    size_t off = 0;
    int full = 0;
    for (int e = 0; e < n && !full; e++) {
      int fd = (int)(uint32_t)(evs[e].data.u64 & 0xffffffffu);
      int32_t tag = (int32_t)(evs[e].data.u64 >> 32);
      for (int r = 0; r < READS_PER_FD; r++) {
        full = count >= st->meta_packets || st->buf_len - off < MAX_DATAGRAM;
        if (full) break;
        ssize_t got = read_datagram(st, fd, tag, off, st->meta_words + (size_t)count * RTPIO_STRIDE);
        if (got < 0) break;
        if (got == 0) continue;
        count++;
        off += ((size_t)got + 7) & ~(size_t)7;
      }
    }
    /* Only after JS ran may fds have been closed or reused: the next round asks epoll again. */
    if (count > 0 && deliver(st, count) != 0) return;
    if (!full && n < EVENTS_PER_WAIT) return;
  }
}

static void set_polling(rtpio_state *st) {
  int want = st->watched > 0;
  if (want == st->polling || st->poll == NULL) return;
  if (want) uv_poll_start(st->poll, UV_READABLE, on_readable);
  else uv_poll_stop(st->poll);
  st->polling = want;
}

/*
 * Thread teardown (a worker ends): close every socket and the epoll set, and close the poll
 * handle asynchronously. An async cleanup hook, so Node waits for the handle's close callback
 * before it unloads this library (a plain hook would leave libuv calling into unmapped code).
 */
static void on_poll_closed(uv_handle_t *h) {
  napi_async_cleanup_hook_handle done = (napi_async_cleanup_hook_handle)h->data;
  free(h);
  napi_remove_async_cleanup_hook(done);
}

static void cleanup(napi_async_cleanup_hook_handle done, void *arg) {
  rtpio_state *st = (rtpio_state *)arg;
  if (st->epfd >= 0) close(st->epfd);
  st->epfd = -1;
  for (size_t i = 0; i < st->nfds; i++) close(st->fds[i]);
  st->nfds = 0;
  uv_poll_t *poll = st->poll;
  st->poll = NULL;
  if (poll == NULL) {
    napi_remove_async_cleanup_hook(done);
    return;
  }
  uv_poll_stop(poll);
  poll->data = done;
  uv_close((uv_handle_t *)poll, on_poll_closed);
}

static void finalize_state(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  rtpio_state *st = (rtpio_state *)data;
  free(st->fds);
  free(st);
}

/* init(recvBuf: Buffer, meta: Int32Array, onBatch: (count) => void): once per thread. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "init(recvBuf, meta, onBatch)");
    return NULL;
  }
  if (state_of(env) != NULL) {
    napi_throw_error(env, "ERR_RTPIO", "rtpio already initialised in this thread");
    return NULL;
  }
  void *buf;
  size_t buf_len;
  CHECK(env, napi_get_buffer_info(env, argv[0], &buf, &buf_len));
  napi_typedarray_type type;
  size_t words;
  void *meta;
  CHECK(env, napi_get_typedarray_info(env, argv[1], &type, &words, &meta, NULL, NULL));
  if (type != napi_int32_array || buf_len < 2 * MAX_DATAGRAM || words < RTPIO_STRIDE) {
    napi_throw_range_error(env, NULL, "rtpio init: recvBuf >= 128 KiB and an Int32Array meta");
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  rtpio_state *st = calloc(1, sizeof(*st));
  if (st == NULL) {
    napi_throw_error(env, "ENOMEM", "rtpio init: out of memory");
    return NULL;
  }
  st->env = env;
  st->buf = buf;
  st->buf_len = buf_len;
  st->meta_words = meta;
  st->meta_packets = words / RTPIO_STRIDE;
  st->epfd = epoll_create1(EPOLL_CLOEXEC);
  st->poll = malloc(sizeof(uv_poll_t));
  if (st->epfd < 0 || st->poll == NULL || uv_poll_init(loop, st->poll, st->epfd) != 0) {
    int err = errno;
    if (st->epfd >= 0) close(st->epfd);
    free(st->poll);
    free(st);
    napi_throw_error(env, NULL, strerror(err));
    return NULL;
  }
  st->poll->data = st;
  napi_value name;
  CHECK(env, napi_create_reference(env, argv[0], 1, &st->recv_buf));
  CHECK(env, napi_create_reference(env, argv[1], 1, &st->meta));
  CHECK(env, napi_create_reference(env, argv[2], 1, &st->callback));
  CHECK(env, napi_create_string_utf8(env, "RTPIO", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_async_init(env, NULL, name, &st->async));
  CHECK(env, napi_set_instance_data(env, st, finalize_state, NULL));
  CHECK(env, napi_add_async_cleanup_hook(env, cleanup, st, NULL));
  return NULL;
}

static int get_int(napi_env env, napi_value v, int32_t *out) { return napi_get_value_int32(env, v, out) == napi_ok; }

/* An IP literal (JS string) and a port as a socket address; returns its length, 0 if not an IP. */
static socklen_t get_host(napi_env env, napi_value text, int32_t port, struct sockaddr_storage *ss) {
  char host[64];
  size_t len = 0;
  memset(ss, 0, sizeof(*ss));
  if (napi_get_value_string_utf8(env, text, host, sizeof(host), &len) != napi_ok) return 0;
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    return sizeof(*a4);
  }
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    return sizeof(*a6);
  }
  return 0;
}

/* bind(address: string, port, bufferBytes, timestamps?) -> fd >= 0, or -errno. */
static napi_value js_bind(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t port = 0, bytes = 0;
  if (argc < 3 || !get_int(env, argv[1], &port) || !get_int(env, argv[2], &bytes) || port < 0 || port > 65535) {
    return make_int(env, -EINVAL);
  }
  struct sockaddr_storage ss;
  socklen_t sl = get_host(env, argv[0], port, &ss);
  if (sl == 0) return make_int(env, -EINVAL);
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_int(env, -errno);
  if (bytes > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  }
  bool stamps = false;
  if (argc > 3) napi_get_value_bool(env, argv[3], &stamps);
  int on = 1;
  if (stamps && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) != 0) {
    int err = errno;
    close(fd);
    return make_int(env, -err);
  }
  rtpio_state *st = state_of(env);
  int err = 0;
  if (bind(fd, (struct sockaddr *)&ss, sl) != 0) err = errno;
  else if (st != NULL && track(st, fd) != 0) err = ENOMEM;
  if (err != 0) {
    close(fd);
    return make_int(env, -err);
  }
  return make_int(env, fd);
}

/* localPort(fd) -> the port the socket is bound to, or -errno. */
static napi_value js_local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 1 || !get_int(env, argv[0], &fd) || fd < 0) return make_int(env, -EINVAL);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) return make_int(env, -errno);
  int32_t w[RTPIO_STRIDE];
  put_address(w, &ss);
  return make_int(env, w[3]);
}

/* watch(fd, tag) -> 0 or -errno: the fd's datagrams come to onBatch with this tag. */
static napi_value js_watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  rtpio_state *st = state_of(env);
  int32_t fd, tag;
  if (st == NULL || st->epfd < 0 || argc < 2 || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &tag) || fd < 0) {
    return make_int(env, -EINVAL);
  }
  struct epoll_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN;
  ev.data.u64 = ((uint64_t)(uint32_t)tag << 32) | (uint32_t)fd;
  if (epoll_ctl(st->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) return make_int(env, -errno);
  st->watched++;
  set_polling(st);
  return make_int(env, 0);
}

/* close(fd, watched) -> 0 or -errno; a watched fd leaves the epoll set first. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
 int32_t fd;
  if (argc < 1 || !get_int(env, argv[0], &fd) || fd < 0) return make_int(env, -EINVAL);
  bool watched = false;
  if (argc > 1) napi_get_value_bool(env, argv[1], &watched);
  rtpio_state *st = state_of(env);
  if (st != NULL) untrack(st, fd);
  if (watched && st != NULL && st->epfd >= 0 && epoll_ctl(st->epfd, EPOLL_CTL_DEL, fd, NULL) == 0) {
    st->watched--;
    set_polling(st);
  }
  return make_int(env, close(fd) == 0 ? 0 : -errno);
}

/*
 * send(data: Buffer, desc: Int32Array, count) -> packets that failed. Each failed descriptor's
 * length word becomes -errno (EAGAIN: the socket's send buffer is full; the packet is dropped,
 * as a late RTP packet is worth nothing).
 */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data;
  size_t data_len;
  napi_typedarray_type type;
  size_t words;
  void *desc;
  int32_t count;
  if (argc < 3 || napi_get_buffer_info(env, argv[0], &data, &data_len) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], &type, &words, &desc, NULL, NULL) != napi_ok || type != napi_int32_array ||
      !get_int(env, argv[2], &count) || count < 0 || (size_t)count * RTPIO_STRIDE > words) {
    napi_throw_type_error(env, NULL, "send(data, desc, count)");
    return NULL;
  }
  int failed = 0;
  for (int32_t i = 0; i < count; i++) {
    int32_t *w = (int32_t *)desc + (size_t)i * RTPIO_STRIDE;
    if (w[1] < 0 || w[2] < 0 || (size_t)w[1] + (size_t)w[2] > data_len || (w[4] != 4 && w[4] != 6)) {
      w[2] = -EINVAL;
      failed++;
      continue;
    }
    struct sockaddr_storage ss;
    socklen_t sl = get_address(w, &ss);
    ssize_t r;
    do {
      r = sendto(w[0], (uint8_t *)data + w[1], (size_t)w[2], MSG_DONTWAIT, (struct sockaddr *)&ss, sl);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      w[2] = -errno;
      failed++;
    }
  }
  return make_int(env, failed);
}

/* parseAddress(text, out: Int32Array(STRIDE)) -> 4 or 6 (out[4..8] filled as in a descriptor), or 0. */
static napi_value js_parse_address(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_typedarray_type type;
  size_t words;
  void *out;
  if (argc < 2 || napi_get_typedarray_info(env, argv[1], &type, &words, &out, NULL, NULL) != napi_ok ||
      type != napi_int32_array || words < RTPIO_STRIDE) {
    return make_int(env, 0);
  }
  struct sockaddr_storage ss;
  if (get_host(env, argv[0], 0, &ss) == 0) return make_int(env, 0);
  int32_t *w = out;
  int32_t port = w[3];
  put_address(w, &ss);
  w[3] = port;
  return make_int(env, w[4]);
}

/* formatAddress(words: Int32Array, index) -> the text of the address in the descriptor at index. */
static napi_value js_format_address(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_typedarray_type type;
  size_t words;
  void *in;
  int32_t index;
  if (argc < 2 || napi_get_typedarray_info(env, argv[0], &type, &words, &in, NULL, NULL) != napi_ok ||
      type != napi_int32_array || !get_int(env, argv[1], &index) || index < 0 || (size_t)index + RTPIO_STRIDE > words) {
    napi_throw_type_error(env, NULL, "formatAddress(words, index)");
    return NULL;
  }
  struct sockaddr_storage ss;
  get_address((int32_t *)in + index, &ss);
  char text[INET6_ADDRSTRLEN];
  const void *src = ss.ss_family == AF_INET ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
                                            : (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
  if (inet_ntop(ss.ss_family, src, text, sizeof(text)) == NULL) text[0] = 0;
  napi_value out;
  CHECK(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value module_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
      {"bind", NULL, js_bind, NULL, NULL, NULL, napi_default, NULL},
      {"localPort", NULL, js_local_port, NULL, NULL, NULL, napi_default, NULL},
      {"watch", NULL, js_watch, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"parseAddress", NULL, js_parse_address, NULL, NULL, NULL, napi_default, NULL},
      {"formatAddress", NULL, js_format_address, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  napi_value stride;
  napi_create_int32(env, RTPIO_STRIDE, &stride);
  napi_set_named_property(env, exports, "STRIDE", stride);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, module_init)
