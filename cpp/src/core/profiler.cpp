#include "metallic/profiler.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

#include "metallic/error.hpp"

namespace metallic {

namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string size3_json(const Size3& s) {
  return "[" + std::to_string(s[0]) + ", " + std::to_string(s[1]) + ", " + std::to_string(s[2]) +
         "]";
}

std::string format(const char* fmt, double a, double b = 0, double c = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return buf;
}

}  // namespace

std::string Profiler::label(const char* op) const {
  if (scope_.empty()) return op;
  return scope_ + "/" + op;
}

void Profiler::push_scope(std::string name) {
  scopes_.push_back(std::move(name));
  scope_ += (scope_.empty() ? "" : "/") + scopes_.back();
}

void Profiler::pop_scope() {
  if (scopes_.empty()) {
    throw ArgumentError(
        "pop_scope() without a scope: every pop_scope() needs a push_scope() "
        "before it (or use `with ctx.scope(name):`)");
  }
  scopes_.pop_back();
  scope_.clear();
  for (const auto& s : scopes_) scope_ += (scope_.empty() ? "" : "/") + s;
}

ProfileMark Profiler::start() {
  ++depth_;
  return {next_ordinal_, untimed_seconds_};
}

Profile Profiler::stop(const ProfileMark& mark) {
  Profile p;
  for (const auto& e : log_) {
    if (e.ordinal >= mark.first) p.records.push_back(e.record);
  }
  p.untimed_command_buffer_seconds = untimed_seconds_ - mark.untimed_seconds;
  double origin = -1.0;
  for (const auto& r : p.records) {
    if (r.start >= 0 && (origin < 0 || r.start < origin)) origin = r.start;
  }
  for (auto& r : p.records) {
    if (r.start >= 0) r.start -= origin;
  }
  if (depth_ > 0 && --depth_ == 0) {
    log_.clear();
    pending_.clear();
  }
  return p;
}

void Profiler::encoded(uint64_t seq, uint32_t index, DispatchRecord record) {
  record.command_buffer = seq;
  pending_.push_back({next_ordinal_++, index, std::move(record)});
}

void Profiler::completed(uint64_t seq, uint32_t commands,
                         const std::vector<DispatchTiming>& timings) {
  failed(seq - 1);  // nothing older can still be pending; never let it block the queue
  const bool per_command = timings.size() == commands;
  bool any = false;
  while (!pending_.empty() && pending_.front().record.command_buffer == seq) {
    Entry e = std::move(pending_.front());
    pending_.pop_front();
    if (per_command && e.index < timings.size()) {
      e.record.seconds = timings[e.index].seconds;
      e.record.start = timings[e.index].start;
    }
    log_.push_back(std::move(e));
    any = true;
  }
  if (any && !per_command) {
    for (const auto& t : timings) untimed_seconds_ += t.seconds;
  }
}

void Profiler::failed(uint64_t seq) {
  while (!pending_.empty() && pending_.front().record.command_buffer <= seq) pending_.pop_front();
}

std::string Profile::table() const {
  struct Row {
    size_t calls = 0;
    double seconds = 0.0;
    size_t untimed = 0;
    std::string kernels;
  };
  std::map<std::string, Row> rows;
  double total = 0.0;
  for (const auto& r : records) {
    Row& row = rows[r.label];
    row.calls++;
    if (r.seconds >= 0) {
      row.seconds += r.seconds;
      total += r.seconds;
    } else {
      row.untimed++;
    }
    if (row.kernels.find(r.kernel) == std::string::npos) {
      row.kernels += (row.kernels.empty() ? "" : ", ") + r.kernel;
    }
  }
  std::vector<std::pair<std::string, Row>> sorted(rows.begin(), rows.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second.seconds > b.second.seconds;
  });
  size_t width = 2;
  for (const auto& [label, row] : sorted) width = std::max(width, label.size());
  auto pad = [&](const std::string& s) { return s + std::string(width - s.size() + 2, ' '); };
  std::string out = pad("op") + "   calls    total ms     mean us   share  kernels\n";
  for (const auto& [label, row] : sorted) {
    const size_t timed = row.calls - row.untimed;
    out += pad(label) + format("%8.0f", double(row.calls));
    if (timed) {
      out += format("  %10.3f  %10.2f  %5.1f%%", row.seconds * 1e3, row.seconds / timed * 1e6,
                    total > 0 ? 100.0 * row.seconds / total : 0.0);
    } else {
      out += "           -           -       -";
    }
    out += "  " + row.kernels + "\n";
  }
  out += pad("total") + format("%8.0f  %10.3f\n", double(records.size()), total * 1e3);
  if (untimed_command_buffer_seconds > 0 || total == 0.0) {
    for (const auto& r : records) {
      if (r.seconds < 0) {
        out += format(
            "the device timed whole command buffers only: %.3f ms for the dispatches shown as -\n",
            untimed_command_buffer_seconds * 1e3);
        break;
      }
    }
  }
  return out;
}

std::string Profile::chrome_trace() const {
  // Complete events ("ph": "X") in microseconds. Where the device gave no start times, the
  // dispatches are laid end to end, as a queue runs them.
  std::string out = "{\"displayTimeUnit\": \"ns\", \"traceEvents\": [\n";
  double next = 0.0;
  bool first = true;
  for (const auto& r : records) {
    const double seconds = r.seconds >= 0 ? r.seconds : 0.0;
    const double start = r.start >= 0 ? r.start : next;
    next = start + seconds;
    out += first ? "" : ",\n";
    first = false;
    out += "{\"name\": " + json_string(r.label) +
           ", \"cat\": " + json_string(r.scope.empty() ? "op" : r.scope) +
           ", \"ph\": \"X\", \"pid\": 1, \"tid\": 1, \"ts\": " + format("%.3f", start * 1e6) +
           ", \"dur\": " + format("%.3f", seconds * 1e6) +
           ", \"args\": {\"scope\": " + json_string(r.scope) +
           ", \"kernel\": " + json_string(r.kernel) + ", \"grid\": " + size3_json(r.grid) +
           ", \"threadgroup\": " + size3_json(r.threadgroup) +
           ", \"bytes\": " + std::to_string(r.bytes) +
           ", \"command_buffer\": " + std::to_string(r.command_buffer) +
           ", \"timed\": " + (r.seconds >= 0 ? "true" : "false") + "}}";
  }
  out += "\n]}\n";
  return out;
}

}  // namespace metallic
