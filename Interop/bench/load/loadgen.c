/* Load generator on librdkafka for Interop/bench/load/run.py (a measurement, not a test).
 * Compiled against Debian's rdkafka.h and linked with the librdkafka that the
 * confluent-kafka wheel bundles (run.py does both).
 *
 *   loadgen produce BOOTSTRAP TOPIC COUNT SIZE ACKS CODEC   -> "messages seconds errors"
 *   loadgen consume BOOTSTRAP TOPIC COUNT                   -> "messages seconds first_message_seconds"
 *   loadgen latency BOOTSTRAP TOPIC RATE SECONDS [ACKS]     -> "p50_ms p99_ms p999_ms samples" (acks 1 by default)
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char error[512];
    if (rd_kafka_conf_set(conf, key, value, error, sizeof error) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "config %s=%s: %s\n", key, value, error);
        exit(2);
    }
}

static long delivery_errors;
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque) {
    (void)rk; (void)opaque;
    if (message->err) delivery_errors++;
}

static int produce(const char *bootstrap, const char *topic, long count, int size, const char *acks, const char *codec) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "acks", acks);
    set(conf, "compression.codec", codec);
    set(conf, "linger.ms", "5");
    set(conf, "batch.size", "1000000");
    set(conf, "queue.buffering.max.messages", "1000000");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    char error[512];
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (!producer) { fprintf(stderr, "%s\n", error); return 2; }
    char *payload = malloc(size);
    for (int i = 0; i < size; i++) payload[i] = 'a' + (i * 7) % 26;
    double start = now_seconds();
    for (long i = 0; i < count; i++) {
        while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                 RD_KAFKA_V_VALUE(payload, size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(producer, 10);
        }
        rd_kafka_poll(producer, 0);
    }
    rd_kafka_flush(producer, 120000);
    double seconds = now_seconds() - start;
    printf("%ld %.6f %ld\n", count, seconds, delivery_errors);
    rd_kafka_destroy(producer);
    free(payload);
    return 0;
}

static rd_kafka_t *consumer_for(const char *bootstrap, const char *topic, int64_t offset) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "group.id", "loadgen-unused");
    set(conf, "enable.auto.commit", "false");
    set(conf, "fetch.wait.max.ms", "500");
    set(conf, "fetch.min.bytes", "1");
    /* librdkafka pauses a partition's fetching for fetch.queue.backoff.ms (1 s by default)
       whenever its local queue passes queued.min.messages: a broker that answers faster than
       this loop consumes runs into that pause. 10 ms for every broker keeps it out of the
       measurement. */
    set(conf, "fetch.queue.backoff.ms", "10");
    char error[512];
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (!consumer) { fprintf(stderr, "%s\n", error); exit(2); }
    rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(assignment, topic, 0)->offset = offset;
    rd_kafka_assign(consumer, assignment);
    rd_kafka_topic_partition_list_destroy(assignment);
    return consumer;
}

static int consume(const char *bootstrap, const char *topic, long count) {
    rd_kafka_t *consumer = consumer_for(bootstrap, topic, RD_KAFKA_OFFSET_BEGINNING);
    long received = 0;
    double start = now_seconds(), first = 0;
    while (received < count && now_seconds() - start < 300) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(consumer, 100);
        if (!message) continue;
        if (!message->err && received++ == 0) first = now_seconds() - start;
        rd_kafka_message_destroy(message);
    }
    printf("%ld %.6f %.6f\n", received, now_seconds() - start, first);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return 0;
}

struct latency_state { rd_kafka_t *consumer; double *samples; long capacity; long count; volatile int stop; };

static void *collect(void *argument) {
    struct latency_state *state = argument;
    while (!state->stop) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(state->consumer, 50);
        if (!message) continue;
        if (!message->err && message->len == sizeof(uint64_t) && state->count < state->capacity) {
            uint64_t sent;
            memcpy(&sent, message->payload, sizeof sent);
            state->samples[state->count++] = (now_ns() - sent) / 1e6;
        }
        rd_kafka_message_destroy(message);
    }
    return NULL;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int latency(const char *bootstrap, const char *topic, int rate, int seconds, const char *acks) {
    struct latency_state state = { consumer_for(bootstrap, topic, RD_KAFKA_OFFSET_END), NULL, (long)rate * seconds + 1000, 0, 0 };
    state.samples = calloc(state.capacity, sizeof(double));
    pthread_t thread;
    pthread_create(&thread, NULL, collect, &state);
    sleep(2);  /* let the consumer reach the end and park its fetch */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "linger.ms", "0");
    set(conf, "acks", acks);
    char error[512];
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    double start = now_seconds();
    long total = (long)rate * seconds;
    for (long i = 0; i < total; i++) {
        double due = start + (double)i / rate;
        while (now_seconds() < due) { rd_kafka_poll(producer, 0); usleep(100); }
        uint64_t sent = now_ns();
        rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                          RD_KAFKA_V_VALUE(&sent, sizeof sent), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        rd_kafka_poll(producer, 0);
    }
    rd_kafka_flush(producer, 10000);
    sleep(1);
    state.stop = 1;
    pthread_join(thread, NULL);
    qsort(state.samples, state.count, sizeof(double), compare);
    if (state.count == 0) { printf("nan nan nan 0\n"); return 1; }
    printf("%.3f %.3f %.3f %ld\n", state.samples[state.count / 2], state.samples[(long)(state.count * 0.99)],
           state.samples[(long)(state.count * 0.999)], state.count);
    rd_kafka_destroy(producer);
    rd_kafka_consumer_close(state.consumer);
    rd_kafka_destroy(state.consumer);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 8 && !strcmp(argv[1], "produce")) return produce(argv[2], argv[3], atol(argv[4]), atoi(argv[5]), argv[6], argv[7]);
    if (argc >= 5 && !strcmp(argv[1], "consume")) return consume(argv[2], argv[3], atol(argv[4]));
    if (argc >= 6 && !strcmp(argv[1], "latency")) return latency(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), argc >= 7 ? argv[6] : "1");
    fprintf(stderr, "usage: see the comment at the top of loadgen.c\n");
    return 2;
}
