// The loaders' shared engine: numbered items produced ahead of a consumer,
// in order, by one reader thread and N worker threads.
//
//   reader   read(g) for g = first, first + 1, ... (I/O: HDF5 calls are
//            serialised anyway, so one thread reads)
//   workers  build(g, read result) (decode, resize, augment, collate)
//   consumer Next() returns item g, then g + 1, ...; at most `window` items
//            are read or built ahead of it, so memory is bounded by the window
//            whatever the number of items.
//
// An error from read or build is returned by Next() for that item. With no
// workers, Next() reads and builds on the calling thread. Used by the
// pretraining loader (loader.h) and the evaluation image stream
// (chexworld/eval/image_stream.h). Torch-free.
#ifndef CHEXWORLD_DATA_PREFETCH_H_
#define CHEXWORLD_DATA_PREFETCH_H_

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace chexworld {

template <typename Raw, typename Item>
class OrderedPrefetcher {
 public:
  using ReadFn = std::function<absl::StatusOr<Raw>(int64_t)>;
  using BuildFn = std::function<absl::StatusOr<Item>(int64_t, Raw&&)>;

  OrderedPrefetcher(ReadFn read, BuildFn build, int num_workers, int window)
      : read_(std::move(read)), build_(std::move(build)), workers_(std::max(0, num_workers)),
        window_(std::max(1, window)) {}
  ~OrderedPrefetcher() { Stop(); }
  OrderedPrefetcher(const OrderedPrefetcher&) = delete;
  OrderedPrefetcher& operator=(const OrderedPrefetcher&) = delete;

  // Produces items first .. end - 1 (end < 0: without end), dropping
  // whatever was read ahead before.
  void Start(int64_t first, int64_t end = -1) {
    Stop();
    next_ = first;
    read_next_ = first;
    end_ = end < 0 ? std::numeric_limits<int64_t>::max() : end;
    if (workers_ == 0) return;
    threads_.emplace_back([this] { ReaderLoop(); });
    for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { WorkerLoop(); });
  }

  // The item Next() returns next.
  int64_t next() const { return next_; }
  bool threaded() const { return !threads_.empty(); }

  // Item next(), waiting for it. Past `end`: OutOfRange.
  absl::StatusOr<Item> Next() {
    if (next_ >= end_) return absl::OutOfRangeError("past the last item");
    if (workers_ == 0) {
      const int64_t g = next_++;
      absl::StatusOr<Raw> raw = read_(g);
      if (!raw.ok()) return raw.status();
      return build_(g, std::move(*raw));
    }
    std::unique_lock<std::mutex> lock(mu_);
    const int64_t g = next_;
    cv_.wait(lock, [&] { return ready_.count(g) > 0; });
    auto node = ready_.extract(g);
    ++next_;
    lock.unlock();
    cv_.notify_all();
    return std::move(node.mapped());
  }

  // Joins the threads; items read ahead are dropped.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.clear();
    ready_.clear();
    stopping_ = false;
  }

 private:
  struct Job {
    int64_t g = 0;
    absl::StatusOr<Raw> raw;
  };

  void ReaderLoop() {
    while (true) {
      int64_t g;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || (read_next_ < end_ && read_next_ - next_ < window_); });
        if (stopping_) return;
        g = read_next_++;
      }
      Job job{g, read_(g)};
      {
        std::lock_guard<std::mutex> lock(mu_);
        jobs_.push_back(std::move(job));
      }
      cv_.notify_all();
    }
  }

  void WorkerLoop() {
    while (true) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      absl::StatusOr<Item> item = job.raw.ok() ? build_(job.g, std::move(*job.raw))
                                               : absl::StatusOr<Item>(job.raw.status());
      lock.lock();
      ready_.emplace(job.g, std::move(item));
      lock.unlock();
      cv_.notify_all();
    }
  }

  ReadFn read_;
  BuildFn build_;
  const int workers_;
  const int64_t window_;
  int64_t next_ = 0;       // consumer's next item (guarded by mu_ while threads run)
  int64_t read_next_ = 0;  // reader's next item
  int64_t end_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<Job> jobs_;
  std::map<int64_t, absl::StatusOr<Item>> ready_;
  std::vector<std::thread> threads_;
};

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_PREFETCH_H_
