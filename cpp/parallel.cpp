#include "parallel.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#ifndef _WIN32
#include <pthread.h>
#endif

namespace mixedfit::detail {

namespace {

// A spin-wait hint to the core (lets its sibling hyperthread run; saves power).
inline void pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// One parallel_for: its parts are claimed one at a time (next), by the caller and by workers.
struct Job {
  void (*run)(const void*, int);
  const void* work;
  int parts;
  std::atomic<int> next{1};   // part 0 is the caller's
  std::atomic<int> users{0};  // workers holding this job (the caller waits for none)
};

class Pool {
 public:
  // At most max_workers threads, started as parts need them (a machine's reported cores can be
  // far more than a container lets the process use).
  explicit Pool(int max_workers) : max_workers_(max_workers) {}

  void run(int parts, void (*run)(const void*, int), const void* work) {
    Job job{run, work, parts};
    int to_wake;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(&job);
      open_jobs_.fetch_add(1, std::memory_order_release);
      while (workers_ < std::min(parts - 1, max_workers_)) {
        try {
          std::thread(&Pool::serve, this).detach();  // detached: the pool lives as long as the process
          ++workers_;
        } catch (...) {  // at the process's limit of threads (or memory): the callers run the rest
          max_workers_ = workers_;  // (nothing may escape here: the job is queued)
        }
      }
      to_wake = std::min(parts - 1, sleepers_);
    }
    for (int i = 0; i < to_wake; ++i) wake_.notify_one();  // as many as there are parts for
    run(work, 0);
    for (int t; (t = job.next.fetch_add(1)) < parts;) run(work, t);
    {
      std::lock_guard<std::mutex> lock(mutex_);  // no worker takes it up from here on
      jobs_.erase(std::find(jobs_.begin(), jobs_.end(), &job));
      open_jobs_.fetch_sub(1, std::memory_order_relaxed);
    }
    while (job.users.load(std::memory_order_acquire) > 0) std::this_thread::yield();
  }

 private:
  // The first job with a part left to claim, if any (under the lock).
  Job* open_job() const {
    for (Job* job : jobs_) {
      if (job->next.load(std::memory_order_relaxed) < job->parts) return job;
    }
    return nullptr;
  }

  void serve() {
    for (;;) {
      // A factorization's parallel parts come in quick succession (a supernodal factor's fronts,
      // the blocked dense Cholesky's steps): a worker watches for the next for a while before it
      // sleeps, as waking it costs about what a short part does.
      const auto until = std::chrono::steady_clock::now() + kWatch;
      while (open_jobs_.load(std::memory_order_acquire) == 0 && std::chrono::steady_clock::now() < until) {
        for (int i = 0; i < 64; ++i) pause();
      }
      Job* job;
      {
        // Parts are claimed without the lock, so a job seen open may be claimed out a moment later:
        // the job taken is the one found open, once.
        std::unique_lock<std::mutex> lock(mutex_);
        job = open_job();
        if (job == nullptr) {
          ++sleepers_;
          wake_.wait(lock, [&] { return (job = open_job()) != nullptr; });
          --sleepers_;
        }
        job->users.fetch_add(1, std::memory_order_relaxed);  // before the lock is let go: the job stays alive
      }
      for (int t; (t = job->next.fetch_add(1)) < job->parts;) job->run(job->work, t);
      job->users.fetch_sub(1, std::memory_order_release);  // the last touch of the job
    }
  }

  static constexpr std::chrono::microseconds kWatch{200};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Job*> jobs_;
  std::atomic<int> open_jobs_{0};  // jobs_.size(), readable without the lock
  int sleepers_ = 0;               // workers waiting on wake_
  int workers_ = 0, max_workers_;
};

std::atomic<Pool*> pool{nullptr};
std::atomic_flag starting = ATOMIC_FLAG_INIT;

Pool* the_pool() {
  if (Pool* p = pool.load(std::memory_order_acquire)) return p;
  while (starting.test_and_set(std::memory_order_acquire)) std::this_thread::yield();
  Pool* p = pool.load(std::memory_order_acquire);
  if (p == nullptr) {
    const int cores = static_cast<int>(std::thread::hardware_concurrency());
    p = new Pool(std::max(1, cores - 1));  // never freed: its threads serve until the process ends
    pool.store(p, std::memory_order_release);
#ifndef _WIN32
    // A forked child has none of the workers (nor, perhaps, a free mutex): it starts its own
    // pool. (Registered once: a child inherits the handler.)
    static const bool registered = pthread_atfork(nullptr, nullptr, [] {
      pool.store(nullptr);
      starting.clear();
    }) == 0;
    (void)registered;
#endif
  }
  starting.clear(std::memory_order_release);
  return p;
}

}  // namespace

void run_on_pool(int parts, void (*run)(const void* work, int t), const void* work) {
  the_pool()->run(parts, run, work);
}

}  // namespace mixedfit::detail
