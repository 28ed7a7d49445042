/* monitor.c: see monitor.h.  Parsers read /proc text defensively: a field
 * that is absent or malformed reads as zero, never as a crash. */
#include "bench/monitor.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "bench/stats.h"
#include "common/timeutil.h"

/* Counters read in one sample; rates come from two consecutive readings. */
typedef struct reading {
  int64_t at_ns;
  double process_user_s, process_system_s;
  uint64_t system_user, system_system, system_idle, system_iowait, system_total;
  uint64_t minor_faults, major_faults;
  uint64_t rss_bytes, vm_bytes, swap_bytes;
  uint64_t disk_reads, disk_read_sectors, disk_read_ms, disk_writes, disk_write_sectors, disk_write_ms;
  uint64_t io_read_bytes, io_write_bytes;
  uint64_t net_rx_bytes, net_tx_bytes, net_rx_packets, net_tx_packets;
  uint64_t loopback_rx_bytes, loopback_tx_bytes;
  double load1, load5, load15;
  uint64_t voluntary, involuntary;
  uint64_t threads;
  uint64_t progress; /* items the runner reported done (spans written, queries answered) */
} reading;

struct sl_monitor {
  _Atomic uint64_t progress;
  pthread_t thread;
  pthread_mutex_t mutex;
  pthread_cond_t wake;
  bool stop;
  uint32_t interval_ms;
  char disk[64]; /* device name in /proc/diskstats, "" when unknown */
  char phase[128];
  int64_t started_ns;
  reading last;
  json_t *samples;
  double *sample_seconds; /* samples[i] covers sample_seconds[i] (the weight of its figures in a phase's mean) */
  size_t sample_capacity;
  json_t *phases;
  double monitor_cpu_s;
  /* CPU per thread as last sampled, threads that ended included (thread_cpu_seconds). */
  struct thread_seen *threads;
  size_t thread_count, thread_capacity;
  json_t *ended_cpu; /* name -> CPU seconds of threads no longer in /proc/self/task */
  uint64_t thread_generation;
};

typedef struct thread_seen {
  long tid;
  char name[64]; /* with a trailing "-N" dropped */
  double cpu_s;
  uint64_t generation; /* of the last sample that saw it */
} thread_seen;

/* groups[name] += seconds */
static void add_seconds(json_t *groups, const char *name, double seconds) {
  json_t *current = json_object_get(groups, name);
  json_object_set_new(groups, name, json_real((current ? json_real_value(current) : 0) + seconds));
}

enum { MAX_THREADS_SAMPLED = 4096 };

static long ticks_per_second(void) {
  long ticks = sysconf(_SC_CLK_TCK);
  return ticks > 0 ? ticks : 100;
}

static size_t read_text(const char *path, char *out, size_t out_bytes) {
  FILE *file = fopen(path, "r");
  if (file == NULL) {
    out[0] = '\0';
    return 0;
  }
  size_t got = fread(out, 1, out_bytes - 1, file);
  out[got] = '\0';
  fclose(file);
  return got;
}

static uint64_t field_after(const char *text, const char *key) {
  const char *at = strstr(text, key);
  if (at == NULL) {
    return 0;
  }
  at += strlen(key);
  while (*at == ' ' || *at == '\t' || *at == ':') {
    at++;
  }
  return strtoull(at, NULL, 10);
}

/* Reads up to max whitespace-separated unsigned numbers from text; returns
 * how many were read (stops at the first thing that is not a number). */
static size_t read_numbers(const char *text, unsigned long long *out, size_t max) {
  size_t count = 0;
  const char *cursor = text;
  while (count < max) {
    while (*cursor == ' ' || *cursor == '\t') {
      cursor++;
    }
    char *end = NULL;
    unsigned long long value = strtoull(cursor, &end, 10);
    if (end == cursor) {
      break;
    }
    out[count++] = value;
    cursor = end;
  }
  return count;
}

/* /proc/[pid]/stat: fields after the ")" that closes the command name. */
static void parse_stat(const char *text, double *user_s, double *system_s, uint64_t *minor, uint64_t *major,
                       uint64_t *threads, uint64_t *vm_bytes, uint64_t *rss_pages) {
  const char *close = strrchr(text, ')');
  if (close == NULL) {
    return;
  }
  unsigned long long values[24] = {0};
  /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
     priority nice num_threads itrealvalue starttime vsize rss: skip the state letter. */
  const char *fields = close + 1;
  while (*fields == ' ') {
    fields++;
  }
  if (*fields != '\0') {
    fields++;
  }
  size_t read = read_numbers(fields, values, 21);
  if (read < 13) {
    return;
  }
  double ticks = (double)ticks_per_second();
  if (minor) *minor = values[6];
  if (major) *major = values[8];
  *user_s = (double)values[10] / ticks;
  *system_s = (double)values[11] / ticks;
  if (threads && read >= 17) *threads = values[16];
  if (vm_bytes && read >= 20) *vm_bytes = values[19];
  if (rss_pages && read >= 21) *rss_pages = values[20];
}

static void read_disk(const char *disk, reading *now) {
  if (disk[0] == '\0') {
    return;
  }
  static _Thread_local char text[1 << 16];
  read_text("/proc/diskstats", text, sizeof text);
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    unsigned long long ids[2] = {0};
    if (read_numbers(line, ids, 2) != 2) {
      continue;
    }
    const char *cursor = line;
    while (*cursor == ' ') cursor++;
    for (int skip = 0; skip < 2; skip++) { /* past major and minor */
      while (*cursor != ' ' && *cursor != '\0') cursor++;
      while (*cursor == ' ') cursor++;
    }
    size_t name_length = strcspn(cursor, " ");
    if (name_length != strlen(disk) || strncmp(cursor, disk, name_length) != 0) {
      continue;
    }
    unsigned long long f[11] = {0};
    if (read_numbers(cursor + name_length, f, 11) >= 8) {
      now->disk_reads = f[0];
      now->disk_read_sectors = f[2];
      now->disk_read_ms = f[3];
      now->disk_writes = f[4];
      now->disk_write_sectors = f[6];
      now->disk_write_ms = f[7];
      return;
    }
  }
}

static void read_network(reading *now) {
  static _Thread_local char text[1 << 16];
  read_text("/proc/net/dev", text, sizeof text);
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    char *colon = strchr(line, ':');
    if (colon == NULL) {
      continue;
    }
    *colon = '\0';
    char *name = line;
    while (*name == ' ') name++;
    unsigned long long f[10] = {0};
    if (read_numbers(colon + 1, f, 10) != 10) {
      continue;
    }
    if (strcmp(name, "lo") == 0) {
      now->loopback_rx_bytes += f[0];
      now->loopback_tx_bytes += f[8];
    } else {
      now->net_rx_bytes += f[0];
      now->net_rx_packets += f[1];
      now->net_tx_bytes += f[8];
      now->net_tx_packets += f[9];
    }
  }
}

static reading take_reading(sl_monitor *monitor) {
  reading now = {.at_ns = sl_monotonic_ns(), .progress = atomic_load(&monitor->progress)};
  char text[8192];
  read_text("/proc/self/stat", text, sizeof text);
  uint64_t rss_pages = 0;
  double ticked_user_s = 0, ticked_system_s = 0;
  parse_stat(text, &ticked_user_s, &ticked_system_s, &now.minor_faults, &now.major_faults, &now.threads,
             &now.vm_bytes, &rss_pages);
  /* CPU from getrusage: microseconds, where /proc/self/stat counts 10 ms clock ticks (a sample of a
   * few milliseconds would read 0% or several cores). */
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    now.process_user_s = (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6;
    now.process_system_s = (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
  } else {
    now.process_user_s = ticked_user_s;
    now.process_system_s = ticked_system_s;
  }
  now.rss_bytes = rss_pages * (uint64_t)sysconf(_SC_PAGESIZE);
  read_text("/proc/self/status", text, sizeof text);
  now.swap_bytes = field_after(text, "VmSwap") * 1024;
  now.voluntary = field_after(text, "voluntary_ctxt_switches");
  now.involuntary = field_after(text, "nonvoluntary_ctxt_switches");
  read_text("/proc/stat", text, sizeof text);
  unsigned long long cpu[8] = {0};
  if (strncmp(text, "cpu ", 4) == 0 && read_numbers(text + 4, cpu, 8) >= 5) {
    now.system_user = cpu[0] + cpu[1];
    now.system_system = cpu[2] + cpu[5] + cpu[6];
    now.system_idle = cpu[3];
    now.system_iowait = cpu[4];
    now.system_total = cpu[0] + cpu[1] + cpu[2] + cpu[3] + cpu[4] + cpu[5] + cpu[6] + cpu[7];
  }
  read_text("/proc/self/io", text, sizeof text);
  now.io_read_bytes = field_after(text, "read_bytes");
  now.io_write_bytes = field_after(text, "\nwrite_bytes");
  read_text("/proc/loadavg", text, sizeof text);
  char *cursor = text;
  now.load1 = strtod(cursor, &cursor);
  now.load5 = strtod(cursor, &cursor);
  now.load15 = strtod(cursor, &cursor);
  read_disk(monitor->disk, &now);
  read_network(&now);
  return now;
}

static double per_second(uint64_t now, uint64_t before, double seconds) {
  return now >= before && seconds > 0 ? (double)(now - before) / seconds : 0;
}

static json_t *sample_json(const sl_monitor *monitor, const reading *before, const reading *now) {
  double seconds = (double)(now->at_ns - before->at_ns) / 1e9;
  double system_ticks = (double)(now->system_total - before->system_total);
  double disk_read_ops = (double)(now->disk_reads - before->disk_reads);
  double disk_write_ops = (double)(now->disk_writes - before->disk_writes);
  json_t *sample = json_object();
  json_object_set_new(sample, "t_ms", json_integer((now->at_ns - monitor->started_ns) / 1000000));
  json_object_set_new(sample, "phase", json_string(monitor->phase));
  struct {
    const char *name;
    double value;
  } figures[] = {
      {"throughput_per_s", seconds > 0 && now->progress >= before->progress ? (double)(now->progress - before->progress) / seconds : 0},
      {"cpu_user_pct", seconds > 0 ? 100 * (now->process_user_s - before->process_user_s) / seconds : 0},
      {"cpu_system_pct", seconds > 0 ? 100 * (now->process_system_s - before->process_system_s) / seconds : 0},
      {"system_user_pct", system_ticks > 0 ? 100 * (double)(now->system_user - before->system_user) / system_ticks : 0},
      {"system_system_pct", system_ticks > 0 ? 100 * (double)(now->system_system - before->system_system) / system_ticks : 0},
      {"system_idle_pct", system_ticks > 0 ? 100 * (double)(now->system_idle - before->system_idle) / system_ticks : 0},
      {"system_iowait_pct", system_ticks > 0 ? 100 * (double)(now->system_iowait - before->system_iowait) / system_ticks : 0},
      {"rss_bytes", (double)now->rss_bytes},
      {"vm_bytes", (double)now->vm_bytes},
      {"swap_bytes", (double)now->swap_bytes},
      {"minor_faults_per_s", per_second(now->minor_faults, before->minor_faults, seconds)},
      {"major_faults_per_s", per_second(now->major_faults, before->major_faults, seconds)},
      {"disk_read_ops_per_s", per_second(now->disk_reads, before->disk_reads, seconds)},
      {"disk_write_ops_per_s", per_second(now->disk_writes, before->disk_writes, seconds)},
      {"disk_read_bytes_per_s", 512 * per_second(now->disk_read_sectors, before->disk_read_sectors, seconds)},
      {"disk_write_bytes_per_s", 512 * per_second(now->disk_write_sectors, before->disk_write_sectors, seconds)},
      {"disk_read_latency_ms", disk_read_ops > 0 ? (double)(now->disk_read_ms - before->disk_read_ms) / disk_read_ops : 0},
      {"disk_write_latency_ms", disk_write_ops > 0 ? (double)(now->disk_write_ms - before->disk_write_ms) / disk_write_ops : 0},
      {"io_read_bytes_per_s", per_second(now->io_read_bytes, before->io_read_bytes, seconds)},
      {"io_write_bytes_per_s", per_second(now->io_write_bytes, before->io_write_bytes, seconds)},
      {"net_rx_bytes_per_s", per_second(now->net_rx_bytes, before->net_rx_bytes, seconds)},
      {"net_tx_bytes_per_s", per_second(now->net_tx_bytes, before->net_tx_bytes, seconds)},
      {"net_rx_packets_per_s", per_second(now->net_rx_packets, before->net_rx_packets, seconds)},
      {"net_tx_packets_per_s", per_second(now->net_tx_packets, before->net_tx_packets, seconds)},
      {"loopback_bytes_per_s", per_second(now->loopback_rx_bytes + now->loopback_tx_bytes,
                                          before->loopback_rx_bytes + before->loopback_tx_bytes, seconds)},
      {"load1", now->load1},
      {"load5", now->load5},
      {"load15", now->load15},
      {"context_switches_voluntary_per_s", per_second(now->voluntary, before->voluntary, seconds)},
      {"context_switches_involuntary_per_s", per_second(now->involuntary, before->involuntary, seconds)},
      {"threads", (double)now->threads},
  };
  for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
    json_object_set_new(sample, figures[i].name, json_real(figures[i].value));
  }
  return sample;
}

/* With the mutex held. */
/* A sample covers the time since the previous one; under a millisecond (a phase marked or the
 * monitor stopped right after a sample) there is nothing to measure, and rates over it would be
 * noise (no progress in 20 us is a throughput of 0): that time goes to the next sample. */
static void sample_threads(sl_monitor *monitor);

static void sample_locked(sl_monitor *monitor) {
  if (sl_monotonic_ns() - monitor->last.at_ns < 1000000) {
    return;
  }
  size_t count = json_array_size(monitor->samples);
  if (count == monitor->sample_capacity) {
    size_t capacity = monitor->sample_capacity ? 2 * monitor->sample_capacity : 256;
    double *grown = realloc(monitor->sample_seconds, capacity * sizeof *grown);
    if (grown == NULL) {
      return; /* no room to remember the sample: its time goes to the next one */
    }
    monitor->sample_seconds = grown;
    monitor->sample_capacity = capacity;
  }
  reading now = take_reading(monitor);
  sample_threads(monitor);
  json_array_append_new(monitor->samples, sample_json(monitor, &monitor->last, &now));
  monitor->sample_seconds[count] = (double)(now.at_ns - monitor->last.at_ns) / 1e9;
  monitor->last = now;
}

static void *monitor_main(void *opaque) {
  pthread_setname_np(pthread_self(), "monitor");
  sl_monitor *monitor = opaque;
  pthread_mutex_lock(&monitor->mutex);
  while (!monitor->stop) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)(monitor->interval_ms % 1000) * 1000000L;
    until.tv_sec += monitor->interval_ms / 1000 + until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&monitor->wake, &monitor->mutex, &until);
    if (!monitor->stop) {
      sample_locked(monitor);
    }
  }
  struct timespec cpu;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  monitor->monitor_cpu_s = (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9;
  pthread_mutex_unlock(&monitor->mutex);
  return NULL;
}

/* The /proc/diskstats name of the disk holding path: its whole device
 * (partitions map to their parent through /sys/dev/block). */
static void find_disk(const char *path, char *out, size_t out_bytes) {
  out[0] = '\0';
  struct stat info;
  if (path == NULL || stat(path, &info) != 0) {
    return;
  }
  char link[256], target[512];
  snprintf(link, sizeof link, "/sys/dev/block/%u:%u", major(info.st_dev), minor(info.st_dev));
  ssize_t length = readlink(link, target, sizeof target - 1);
  if (length <= 0) {
    return;
  }
  target[length] = '\0';
  char partition_check[600];
  snprintf(partition_check, sizeof partition_check, "%s/partition", link);
  const char *name = strrchr(target, '/');
  name = name != NULL ? name + 1 : target;
  if (access(partition_check, F_OK) == 0) {
    /* A partition: the parent directory names the disk. */
    char *slash = strrchr(target, '/');
    if (slash != NULL) {
      *slash = '\0';
      const char *parent = strrchr(target, '/');
      name = parent != NULL ? parent + 1 : target;
    }
  }
  size_t length_of_name = strlen(name);
  if (length_of_name >= out_bytes) {
    return; /* not a device name we know how to watch */
  }
  memcpy(out, name, length_of_name + 1);
}

sl_status sl_monitor_start(const sl_monitor_options *options, sl_monitor **out, sl_error *err) {
  *out = NULL;
  sl_monitor *monitor = calloc(1, sizeof *monitor);
  if (monitor == NULL) {
    return sl_error_set(err, SL_ERR_NOMEM, "monitor: out of memory");
  }
  monitor->interval_ms = options != NULL && options->interval_ms > 0 ? options->interval_ms : 250;
  find_disk(options != NULL ? options->store_path : NULL, monitor->disk, sizeof monitor->disk);
  snprintf(monitor->phase, sizeof monitor->phase, "start");
  monitor->samples = json_array();
  monitor->phases = json_array();
  monitor->ended_cpu = json_object();
  monitor->started_ns = sl_monotonic_ns();
  monitor->last = take_reading(monitor);
  pthread_mutex_init(&monitor->mutex, NULL);
  pthread_cond_init(&monitor->wake, NULL);
  json_array_append_new(monitor->phases, json_pack("{s:s, s:i}", "name", "start", "start_ms", 0));
  if (pthread_create(&monitor->thread, NULL, monitor_main, monitor) != 0) {
    json_decref(monitor->samples);
    json_decref(monitor->phases);
    json_decref(monitor->ended_cpu);
    free(monitor);
    return sl_error_set(err, SL_ERR_INTERNAL, "monitor: cannot start its thread");
  }
  *out = monitor;
  return SL_OK;
}

void sl_monitor_mark_phase(sl_monitor *monitor, const char *phase) {
  if (monitor == NULL) {
    return;
  }
  pthread_mutex_lock(&monitor->mutex);
  sample_locked(monitor); /* close the previous phase with a fresh sample */
  json_int_t at_ms = (json_int_t)((sl_monotonic_ns() - monitor->started_ns) / 1000000);
  size_t count = json_array_size(monitor->phases);
  if (count > 0) {
    json_object_set_new(json_array_get(monitor->phases, count - 1), "end_ms", json_integer(at_ms));
  }
  snprintf(monitor->phase, sizeof monitor->phase, "%s", phase);
  json_array_append_new(monitor->phases, json_pack("{s:s, s:I}", "name", phase, "start_ms", at_ms));
  pthread_mutex_unlock(&monitor->mutex);
}

void sl_monitor_sample_now(sl_monitor *monitor) {
  pthread_mutex_lock(&monitor->mutex);
  sample_locked(monitor);
  pthread_mutex_unlock(&monitor->mutex);
}

/* Reads every thread's name and CPU into monitor->threads: a thread seen before is updated; one
 * whose id now names another thread (another name, or less CPU) is moved to ended_cpu first, and so
 * is one no longer listed. A thread that ends counts the CPU of the last sample that saw it, so its
 * last interval (at most interval_ms) is not counted, nor a thread that lived between two samples. */
static void sample_threads(sl_monitor *monitor) {
  DIR *dir = opendir("/proc/self/task");
  if (dir == NULL) {
    return;
  }
  uint64_t generation = ++monitor->thread_generation;
  for (struct dirent *entry = readdir(dir); entry != NULL; entry = readdir(dir)) {
    if (entry->d_name[0] == '.') {
      continue;
    }
    char path[300], text[4096];
    snprintf(path, sizeof path, "/proc/self/task/%s/stat", entry->d_name);
    if (read_text(path, text, sizeof text) == 0) {
      continue;
    }
    char *open = strchr(text, '(');
    char *close = strrchr(text, ')');
    if (open == NULL || close == NULL || close < open) {
      continue;
    }
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(close - open - 1), open + 1);
    char *dash = strrchr(name, '-');
    if (dash != NULL && dash[1] >= '0' && dash[1] <= '9') {
      *dash = '\0';
    }
    double user_s = 0, system_s = 0;
    parse_stat(text, &user_s, &system_s, NULL, NULL, NULL, NULL, NULL);
    long tid = strtol(entry->d_name, NULL, 10);
    thread_seen *seen = NULL;
    for (size_t i = 0; i < monitor->thread_count && seen == NULL; i++) {
      seen = monitor->threads[i].tid == tid ? &monitor->threads[i] : NULL;
    }
    if (seen != NULL && (strcmp(seen->name, name) != 0 || user_s + system_s < seen->cpu_s)) {
      add_seconds(monitor->ended_cpu, seen->name, seen->cpu_s);
      snprintf(seen->name, sizeof seen->name, "%s", name);
    }
    if (seen == NULL) {
      if (monitor->thread_count == monitor->thread_capacity) {
        size_t capacity = monitor->thread_capacity ? 2 * monitor->thread_capacity : 64;
        thread_seen *grown = capacity <= MAX_THREADS_SAMPLED
                                 ? realloc(monitor->threads, capacity * sizeof *grown)
                                 : NULL;
        if (grown == NULL) {
          continue; /* too many threads to follow: this one counts only while the others leave room */
        }
        monitor->threads = grown;
        monitor->thread_capacity = capacity;
      }
      seen = &monitor->threads[monitor->thread_count++];
      seen->tid = tid;
      snprintf(seen->name, sizeof seen->name, "%s", name);
    }
    seen->cpu_s = user_s + system_s;
    seen->generation = generation;
  }
  closedir(dir);
  size_t kept = 0;
  for (size_t i = 0; i < monitor->thread_count; i++) {
    if (monitor->threads[i].generation == generation) {
      monitor->threads[kept++] = monitor->threads[i];
    } else {
      add_seconds(monitor->ended_cpu, monitor->threads[i].name, monitor->threads[i].cpu_s);
    }
  }
  monitor->thread_count = kept;
}

/* CPU seconds per thread name, "writer-3" counted under "writer", threads that ended included, as
 * of the last sample (sl_monitor_stop takes one, or the one before was under a millisecond ago). */
static json_t *thread_cpu(const sl_monitor *monitor) {
  json_t *groups = json_deep_copy(monitor->ended_cpu);
  for (size_t i = 0; groups != NULL && i < monitor->thread_count; i++) {
    add_seconds(groups, monitor->threads[i].name, monitor->threads[i].cpu_s);
  }
  return groups != NULL ? groups : json_object();
}

/* Mean and max of every numeric figure over the samples of each phase. */
/* A figure's mean over a phase weighs each sample by the time it covers: a sample of 2 ms after a
 * phase was marked counts for 2 ms, not as much as one of 100 ms. */
static void summarize_phases(json_t *phases, json_t *samples, const double *sample_seconds) {
  size_t p;
  json_t *phase;
  json_array_foreach(phases, p, phase) {
    const char *name = json_string_value(json_object_get(phase, "name"));
    json_t *summary = json_object();
    size_t count = 0;
    double seconds = 0;
    size_t s;
    json_t *sample;
    json_array_foreach(samples, s, sample) {
      if (strcmp(json_string_value(json_object_get(sample, "phase")), name) != 0) {
        continue;
      }
      count++;
      seconds += sample_seconds[s];
      const char *key;
      json_t *value;
      json_object_foreach(sample, key, value) {
        if (!json_is_real(value)) {
          continue;
        }
        json_t *entry = json_object_get(summary, key);
        if (entry == NULL) {
          entry = json_pack("{s:f, s:f}", "sum", 0.0, "max", json_real_value(value));
          json_object_set_new(summary, key, entry);
        }
        json_object_set_new(entry, "sum", json_real(json_real_value(json_object_get(entry, "sum")) +
                                                     sample_seconds[s] * json_real_value(value)));
        if (json_real_value(value) > json_real_value(json_object_get(entry, "max"))) {
          json_object_set_new(entry, "max", json_real(json_real_value(value)));
        }
      }
    }
    const char *key;
    json_t *entry;
    json_object_foreach(summary, key, entry) {
      json_object_set_new(entry, "mean", json_real(seconds > 0 ? json_real_value(json_object_get(entry, "sum")) / seconds : 0));
      json_object_del(entry, "sum");
    }
    json_object_set_new(phase, "samples", json_integer((json_int_t)count));
    json_object_set_new(phase, "summary", summary);
    /* How the phase's throughput moved with its resources, sample by sample (Pearson). */
    static const char *const against[] = {"cpu_user_pct", "cpu_system_pct", "disk_write_bytes_per_s",
                                          "disk_read_bytes_per_s", "rss_bytes"};
    double *x = count > 0 ? calloc(count, sizeof *x) : NULL;
    double *y = count > 0 ? calloc(count, sizeof *y) : NULL;
    json_t *correlations = json_object();
    for (size_t a = 0; x != NULL && y != NULL && a < sizeof against / sizeof against[0]; a++) {
      size_t n = 0;
      json_array_foreach(samples, s, sample) {
        if (strcmp(json_string_value(json_object_get(sample, "phase")), name) == 0 && n < count) {
          x[n] = json_real_value(json_object_get(sample, "throughput_per_s"));
          y[n] = json_real_value(json_object_get(sample, against[a]));
          n++;
        }
      }
      double r = n >= 3 ? sl_correlation(x, y, n) : 0;
      if (r == r) { /* not NaN: a constant series has no correlation */
        json_object_set_new(correlations, against[a], json_real(r));
      }
    }
    free(x);
    free(y);
    json_object_set_new(phase, "throughput_correlation", correlations);
  }
}

void sl_monitor_add_progress(sl_monitor *monitor, uint64_t items) {
  if (monitor != NULL) {
    atomic_fetch_add(&monitor->progress, items);
  }
}

json_t *sl_monitor_stop(sl_monitor *monitor) {
  if (monitor == NULL) {
    return json_null();
  }
  pthread_mutex_lock(&monitor->mutex);
  monitor->stop = true;
  pthread_cond_signal(&monitor->wake);
  pthread_mutex_unlock(&monitor->mutex);
  pthread_join(monitor->thread, NULL);
  sample_locked(monitor);
  double wall_s = (double)(sl_monotonic_ns() - monitor->started_ns) / 1e9;
  size_t count = json_array_size(monitor->phases);
  json_object_set_new(json_array_get(monitor->phases, count - 1), "end_ms",
                      json_integer((json_int_t)(wall_s * 1000)));
  summarize_phases(monitor->phases, monitor->samples, monitor->sample_seconds);
  json_t *result = json_pack("{s:i, s:s, s:o, s:o, s:o, s:f, s:f}", "interval_ms", (int)monitor->interval_ms, "disk",
                             monitor->disk, "samples", monitor->samples, "phases", monitor->phases,
                             "thread_cpu_seconds", thread_cpu(monitor), "monitor_cpu_seconds", monitor->monitor_cpu_s,
                             "monitor_overhead_pct_of_one_core", wall_s > 0 ? 100 * monitor->monitor_cpu_s / wall_s : 0.0);
  pthread_mutex_destroy(&monitor->mutex);
  pthread_cond_destroy(&monitor->wake);
  free(monitor->sample_seconds);
  free(monitor->threads);
  json_decref(monitor->ended_cpu);
  free(monitor);
  return result;
}
