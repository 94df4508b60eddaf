#include "nodus/testing/fake_http_client.h"

#include <memory>
#include <utility>

#include "nodus/address.h"

namespace nodus::testing {

Result<std::string> normalized_url(const HttpClientRequest& request) {
  if (!request.url.empty()) {
    if (request.url.rfind("http://", 0) == 0 || request.url.rfind("https://", 0) == 0) {
      return request.url;
    }
    return invalid_argument("url '" + request.url + "': scheme must be http:// or https://");
  }
  auto hp = parse_host_port(request.address);
  if (!hp.ok()) return hp.status();
  if (request.target.empty() || request.target.front() != '/') {
    return invalid_argument("target '" + request.target + "' of " + request.address +
                            ": must start with '/'");
  }
  return std::string(request.tls ? "https://" : "http://") + format_host_port(hp->host, hp->port) +
         request.target;
}

FakeHttpClient::FakeHttpClient(Executor& executor, HttpClientLimits limits)
    : executor_(executor), limits_(limits) {}

void FakeHttpClient::on(std::string method, std::string url, Result<HttpClientResponse> response,
                        Duration latency) {
  script_.insert_or_assign({std::move(method), std::move(url)},
                           std::make_pair(std::move(response), latency));
}

HttpRequestId FakeHttpClient::request(HttpClientRequest request, HttpClientCallback done) {
  const HttpRequestId id = next_id_.fetch_add(1);
  if (shut_->load()) return id;
  auto start_fn = [this, shut = shut_, id, r = std::move(request), d = std::move(done)]() mutable {
    if (!shut->load()) start(id, std::move(r), std::move(d));
  };
  // Never inside request(): the start itself is a task, like the kernel's hand-off.
  executor_.post(std::move(start_fn));
  return id;
}

void FakeHttpClient::start(HttpRequestId id, HttpClientRequest request, HttpClientCallback done) {
  auto url = normalized_url(request);
  recorded_.push_back({id, url.ok() ? *url : std::string(), request, false});
  pending_[id].done = std::move(done);
  in_flight_.fetch_add(1);
  if (in_flight_.load() > limits_.in_flight_max) {
    finish(id, resource_exhausted("fake http client: " + std::to_string(limits_.in_flight_max) +
                                  " requests already in flight (in_flight_max)"));
    return;
  }
  if (!url.ok()) {
    finish(id, url.status().with_context("http client"));
    return;
  }
  const Duration timeout =
      request.timeout > Duration::zero() ? request.timeout : limits_.default_timeout;
  pending_[id].deadline = executor_.schedule_after(timeout, [this, id, u = *url] {
    pending_[id].deadline = kNoTimer;
    finish(id, deadline_exceeded(u + ": no response within the deadline"));
  });
  auto scripted = script_.find({request.method, *url});
  if (scripted != script_.end()) {
    Result<HttpClientResponse> response = scripted->second.first;
    pending_[id].scripted =
        executor_.schedule_after(scripted->second.second, [this, id, response]() mutable {
          pending_[id].scripted = kNoTimer;
          finish(id, std::move(response));
        });
  }
}

bool FakeHttpClient::reply(HttpRequestId id, Result<HttpClientResponse> response) {
  if (pending_.find(id) == pending_.end()) return false;
  finish(id, std::move(response));
  return true;
}

bool FakeHttpClient::cancel(HttpRequestId id) {
  if (pending_.find(id) == pending_.end()) return false;
  finish(id, cancelled("request " + std::to_string(id) + ": cancelled"));
  return true;
}

void FakeHttpClient::finish(HttpRequestId id, Result<HttpClientResponse> response) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  in_flight_.fetch_sub(1);
  if (p.deadline != kNoTimer) executor_.cancel(p.deadline);
  if (p.scripted != kNoTimer) executor_.cancel(p.scripted);
  if (Recorded* r = find(id)) r->answered = true;
  if (response.ok() && response->body.size() > limits_.response_bytes_max) {
    response = resource_exhausted("response exceeds " + std::to_string(limits_.response_bytes_max) +
                                  " bytes (response_bytes_max)");
  }
  // Posted, so that reply() and cancel() never run plugin code inside the test's own call.
  executor_.post([shut = shut_, done = std::move(p.done), r = std::move(response)]() mutable {
    if (!shut->load()) done(std::move(r));
  });
}

FakeHttpClient::~FakeHttpClient() {
  shutdown();
}

void FakeHttpClient::shutdown() {
  shut_->store(true);
  for (auto& [id, p] : pending_) {
    if (p.deadline != kNoTimer) executor_.cancel(p.deadline);
    if (p.scripted != kNoTimer) executor_.cancel(p.scripted);
  }
  pending_.clear();
  in_flight_.store(0);
}

FakeHttpClient::Recorded* FakeHttpClient::find(HttpRequestId id) {
  for (auto& r : recorded_) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

}  // namespace nodus::testing
