#include "ledger_state.h"

#include <array>
#include <limits>
#include <utility>

namespace nodus::ledger {
namespace {

constexpr std::string_view kSnapshotMagic = "NLDGSNAP";
// 2: dedup windows hold outcomes (rejections too). Version 1 images are still read.
constexpr uint32_t kSnapshotVersion = 2;
constexpr size_t kMaxClientIdBytes = 64;

uint64_t fnv1a64(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_str(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}

// Reads the little-endian image; every read is bounds-checked so a corrupt length cannot run
// past the end.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool u64(uint64_t* v) {
    if (data_.size() - pos_ < 8) return false;
    uint64_t r = 0;
    for (int i = 0; i < 8; ++i) {
      r |= static_cast<uint64_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    }
    pos_ += 8;
    *v = r;
    return true;
  }
  bool str(std::string* s) {
    uint64_t n = 0;
    if (!u64(&n) || n > data_.size() - pos_) return false;
    s->assign(data_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == data_.size(); }
  size_t pos() const { return pos_; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

TxResult make_result(const Transaction& tx, uint64_t index, TxCode code, std::string reason) {
  TxResult r;
  r.set_client_id(tx.client_id());
  r.set_seq(tx.seq());
  r.set_code(code);
  r.set_reason(std::move(reason));
  r.set_index(index);
  return r;
}

bool id_and_seq_usable(const Transaction& tx) {
  return !tx.client_id().empty() && tx.client_id().size() <= kMaxClientIdBytes && tx.seq() != 0;
}

// The answer to a repeat of a decided (client_id, seq): its outcome, never a second apply.
TxResult repeat_result(const Transaction& tx, uint64_t index, const TxOutcome& before) {
  const std::string who =
      "client '" + tx.client_id() + "' seq " + std::to_string(tx.seq()) + " was ";
  const std::string at =
      before.index != 0 ? " at index " + std::to_string(before.index) : std::string();
  if (before.code == TX_OK) {
    return make_result(tx, before.index != 0 ? before.index : index, TX_DUPLICATE,
                       who + "applied before" + at + "; nothing changed");
  }
  return make_result(tx, before.index != 0 ? before.index : index, before.code,
                     who + "refused before" + at + " (" + TxCode_Name(before.code) +
                         "); a repeat keeps that outcome");
}

}  // namespace

TxCode validate_tx(const Transaction& tx, size_t max_tx_bytes, std::string* reason) {
  if (max_tx_bytes > 0) {
    const size_t size = tx.ByteSizeLong();
    if (size > max_tx_bytes) {
      *reason = "transaction is " + std::to_string(size) + " bytes, the limit (max_tx_bytes) is " +
                std::to_string(max_tx_bytes);
      return TX_TOO_LARGE;
    }
  }
  if (tx.client_id().empty()) {
    *reason = "client_id is empty";
    return TX_MALFORMED;
  }
  if (tx.client_id().size() > kMaxClientIdBytes) {
    *reason = "client_id is longer than 64 bytes";
    return TX_MALFORMED;
  }
  if (tx.seq() == 0) {
    *reason = "seq must be greater than 0";
    return TX_MALFORMED;
  }
  switch (tx.op_case()) {
    case Transaction::kTransfer:
      if (tx.transfer().from().empty() || tx.transfer().to().empty()) {
        *reason = "transfer needs both 'from' and 'to'";
        return TX_MALFORMED;
      }
      if (tx.transfer().from() == tx.transfer().to()) {
        *reason = "transfer from an account to itself";
        return TX_MALFORMED;
      }
      if (tx.transfer().amount() == 0) {
        *reason = "transfer amount must be greater than 0";
        return TX_MALFORMED;
      }
      return TX_OK;
    case Transaction::kMint:
      if (tx.mint().account().empty()) {
        *reason = "mint needs an account";
        return TX_MALFORMED;
      }
      if (tx.mint().amount() == 0) {
        *reason = "mint amount must be greater than 0";
        return TX_MALFORMED;
      }
      return TX_OK;
    case Transaction::kPut:
      if (tx.put().key().empty()) {
        *reason = "put needs a non-empty key";
        return TX_MALFORMED;
      }
      return TX_OK;
    case Transaction::OP_NOT_SET:
      break;
  }
  *reason = "transaction has no operation (transfer, mint or put)";
  return TX_MALFORMED;
}

LedgerState::LedgerState(Options options)
    : options_(std::move(options)), dedup_(options_.max_clients, options_.max_dedup_entries) {
  reset_to_genesis();
}

void LedgerState::reset_to_genesis() {
  accounts_.clear();
  kv_.clear();
  dedup_.clear();
  applied_index_ = 0;
  for (const auto& [name, balance] : options_.genesis)
    accounts_[name] = balance;
}

TxResult LedgerState::apply_tx(uint64_t index, const Transaction& tx) {
  std::string reason;
  // The size limit is a front-end policy that may differ between nodes; apply checks only what
  // every node decides the same way.
  if (TxCode code = validate_tx(tx, 0, &reason); code != TX_OK) {
    // A malformed operation with a usable (client_id, seq) is decided like any rejection, so
    // that its seq does not stay a gap in the client's window; the check below keeps a
    // repeat from being decided twice.
    TxOutcome before;
    if (!id_and_seq_usable(tx) ||
        dedup_.check(tx.client_id(), tx.seq(), &before) != DedupWindow::Check::kNew) {
      return make_result(tx, index, code, std::move(reason));
    }
    return decide(tx, index, code, std::move(reason));
  }
  TxOutcome before;
  switch (dedup_.check(tx.client_id(), tx.seq(), &before)) {
    case DedupWindow::Check::kNew:
      break;
    case DedupWindow::Check::kResolved:
      return repeat_result(tx, index, before);
    case DedupWindow::Check::kAhead:
      // Not decided, not recorded: deciding it would need the floor to move past seqs that
      // were never decided (a later copy of one of them would then be told "applied").
      return make_result(tx, index, TX_RETRY,
                         "client '" + tx.client_id() + "' seq " + std::to_string(tx.seq()) +
                             " is more than " + std::to_string(DedupWindow::kSpan) +
                             " above its first undecided seq " +
                             std::to_string(dedup_.floor_of(tx.client_id()) + 1) +
                             "; resolve the earlier seqs first (nothing changed)");
    case DedupWindow::Check::kForgotten:
      return make_result(tx, index, TX_FORGOTTEN,
                         "client '" + tx.client_id() + "' seq " + std::to_string(tx.seq()) +
                             " was decided long ago and its outcome is no longer kept; "
                             "nothing changed");
  }
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  switch (tx.op_case()) {
    case Transaction::kTransfer: {
      const auto& t = tx.transfer();
      auto from = accounts_.find(t.from());
      if (from == accounts_.end()) {
        return decide(tx, index, TX_UNKNOWN_ACCOUNT, "account '" + t.from() + "' does not exist");
      }
      if (from->second < t.amount()) {
        return decide(tx, index, TX_INSUFFICIENT_BALANCE,
                      "account '" + t.from() + "' holds " + std::to_string(from->second) +
                          ", transfer needs " + std::to_string(t.amount()));
      }
      auto to = accounts_.find(t.to());
      const uint64_t to_balance = to == accounts_.end() ? 0 : to->second;
      if (kMax - to_balance < t.amount()) {
        return decide(tx, index, TX_OVERFLOW,
                      "account '" + t.to() + "' holds " + std::to_string(to_balance) + "; adding " +
                          std::to_string(t.amount()) + " would overflow");
      }
      from->second -= t.amount();
      accounts_[t.to()] = to_balance + t.amount();
      break;
    }
    case Transaction::kMint: {
      const auto& m = tx.mint();
      auto it = accounts_.find(m.account());
      const uint64_t balance = it == accounts_.end() ? 0 : it->second;
      if (kMax - balance < m.amount()) {
        return decide(tx, index, TX_OVERFLOW,
                      "account '" + m.account() + "' holds " + std::to_string(balance) +
                          "; minting " + std::to_string(m.amount()) + " would overflow");
      }
      accounts_[m.account()] = balance + m.amount();
      break;
    }
    case Transaction::kPut:
      kv_[tx.put().key()] = tx.put().value();
      break;
    case Transaction::OP_NOT_SET:
      break;  // validate_tx rejected it above
  }
  return decide(tx, index, TX_OK, "");
}

TxResult LedgerState::decide(const Transaction& tx, uint64_t index, TxCode code,
                             std::string reason) {
  dedup_.record(tx.client_id(), tx.seq(), TxOutcome{code, index});
  return make_result(tx, index, code, std::move(reason));
}

std::string LedgerState::apply(uint64_t index, std::string_view command) {
  BatchResult out;
  out.set_index(index);
  // Parsed into an arena: one bump allocator for the thousands of small messages of a batch.
  google::protobuf::Arena arena;
  auto* batch = google::protobuf::Arena::CreateMessage<Batch>(&arena);
  // A command that does not parse is rejected the same way on every node: no results.
  if (batch->ParseFromArray(command.data(), static_cast<int>(command.size()))) {
    out.set_count(static_cast<uint32_t>(batch->txs_size()));
    for (int i = 0; i < batch->txs_size(); ++i) {
      TxResult r = apply_tx(index, batch->txs(i));
      if (r.code() == TX_OK) continue;
      out.add_positions(static_cast<uint32_t>(i));
      *out.add_results() = std::move(r);
    }
  }
  applied_index_ = index;
  if (on_applied_) on_applied_(index, out);
  return out.SerializeAsString();
}

std::optional<uint64_t> LedgerState::balance(const std::string& account) const {
  auto it = accounts_.find(account);
  if (it == accounts_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> LedgerState::get(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) return std::nullopt;
  return it->second;
}

// Image: "NLDGSNAP", u32 version, applied index, accounts, kv pairs, dedup windows, then the
// FNV-1a 64 of everything before it. All integers little-endian; strings length-prefixed.
// Maps are ordered, so equal states give equal bytes.
std::string LedgerState::snapshot() {
  std::string out(kSnapshotMagic);
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((kSnapshotVersion >> (8 * i)) & 0xff));
  put_u64(out, applied_index_);
  put_u64(out, accounts_.size());
  for (const auto& [name, balance] : accounts_) {
    put_str(out, name);
    put_u64(out, balance);
  }
  put_u64(out, kv_.size());
  for (const auto& [k, v] : kv_) {
    put_str(out, k);
    put_str(out, v);
  }
  put_u64(out, dedup_.clients().size());
  for (const auto& [client, entry] : dedup_.clients()) {
    put_str(out, client);
    put_u64(out, entry.window.floor());
    put_u64(out, entry.last_index);
    put_u64(out, entry.window.forgotten_upto());
    for (const auto* outcomes : {&entry.window.above(), &entry.window.refused()}) {
      put_u64(out, outcomes->size());
      for (const auto& [seq, o] : *outcomes) {
        put_u64(out, seq);
        put_u64(out, (static_cast<uint64_t>(o.code) << 56) | o.index);
      }
    }
  }
  put_u64(out, fnv1a64(out));
  return out;
}

Status LedgerState::restore(uint64_t index, std::string_view image) {
  const size_t header = kSnapshotMagic.size() + 4;
  if (image.size() < header + 8 || image.substr(0, kSnapshotMagic.size()) != kSnapshotMagic) {
    return data_loss("ledger snapshot: not a ledger image (bad magic or too short)");
  }
  uint32_t version = 0;
  for (int i = 0; i < 4; ++i) {
    version |= static_cast<uint32_t>(static_cast<unsigned char>(image[kSnapshotMagic.size() + i]))
               << (8 * i);
  }
  if (version != kSnapshotVersion && version != 1) {
    return data_loss("ledger snapshot: version " + std::to_string(version) +
                     " is not supported (this build reads " + std::to_string(kSnapshotVersion) +
                     ")");
  }
  const std::string_view body = image.substr(0, image.size() - 8);
  uint64_t stored = 0;
  Reader tail(image.substr(image.size() - 8));
  (void)tail.u64(&stored);
  if (stored != fnv1a64(body)) {
    return data_loss("ledger snapshot: checksum mismatch (the image is corrupt)");
  }
  // Decode into fresh containers first, so a failure leaves the current state untouched.
  Reader r(body.substr(header));
  auto truncated = [&] {
    return data_loss("ledger snapshot: malformed body at byte " + std::to_string(header + r.pos()));
  };
  uint64_t image_index = 0, n = 0;
  std::map<std::string, uint64_t> accounts;
  std::map<std::string, std::string> kv;
  DedupTable dedup(options_.max_clients, options_.max_dedup_entries);
  if (!r.u64(&image_index) || !r.u64(&n)) return truncated();
  for (uint64_t i = 0; i < n; ++i) {
    std::string name;
    uint64_t balance = 0;
    if (!r.str(&name) || !r.u64(&balance)) return truncated();
    accounts.emplace(std::move(name), balance);
  }
  if (!r.u64(&n)) return truncated();
  for (uint64_t i = 0; i < n; ++i) {
    std::string k, v;
    if (!r.str(&k) || !r.str(&v)) return truncated();
    kv.emplace(std::move(k), std::move(v));
  }
  if (!r.u64(&n)) return truncated();
  for (uint64_t i = 0; i < n; ++i) {
    std::string client;
    DedupTable::Entry entry;
    uint64_t floor = 0, forgotten = 0;
    if (!r.str(&client) || !r.u64(&floor) || !r.u64(&entry.last_index)) return truncated();
    if (version >= 2 && !r.u64(&forgotten)) return truncated();
    std::array<std::map<uint64_t, TxOutcome>, 2> outcomes;
    const size_t parts = version >= 2 ? 2 : 1;
    for (size_t part = 0; part < parts; ++part) {
      uint64_t count = 0;
      if (!r.u64(&count) || count > DedupWindow::kSpan) return truncated();
      for (uint64_t j = 0; j < count; ++j) {
        uint64_t seq = 0, packed = 0;
        if (!r.u64(&seq)) return truncated();
        // Version 1 listed applied seqs only.
        if (version >= 2 && !r.u64(&packed)) return truncated();
        const uint64_t code = packed >> 56;
        if (!TxCode_IsValid(static_cast<int>(code))) return truncated();
        outcomes[part][seq] =
            TxOutcome{static_cast<TxCode>(code), packed & ((uint64_t{1} << 56) - 1)};
      }
    }
    entry.window.assign(floor, forgotten, std::move(outcomes[0]), std::move(outcomes[1]));
    dedup.restore_client(std::move(client), std::move(entry));
  }
  if (!r.done()) return truncated();
  accounts_ = std::move(accounts);
  kv_ = std::move(kv);
  dedup_ = std::move(dedup);
  applied_index_ = index != 0 ? index : image_index;
  // Gauges follow the restored state too (no transaction results: nothing was applied).
  if (on_applied_) on_applied_(applied_index_, BatchResult{});
  return {};
}

std::vector<TxResult> expand_batch_result(const BatchResult& compact) {
  std::vector<TxResult> all(compact.count());
  for (auto& r : all) {
    r.set_code(TX_OK);
    r.set_index(compact.index());
  }
  for (int i = 0; i < compact.results_size() && i < compact.positions_size(); ++i) {
    const uint32_t at = compact.positions(i);
    if (at < all.size()) all[at] = compact.results(i);
  }
  return all;
}

}  // namespace nodus::ledger
