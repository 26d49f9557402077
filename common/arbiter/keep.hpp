#pragma once
// One tick of the renewer (`hakit-arbiter keep`, later hakitd in-process): a writable node
// must hold the lease; it renews it, and sets its database read-only before the lease can
// expire when renewals keep failing, or at once when another node holds the key.
#include <string>

#include "common/arbiter/lease.hpp"
#include "common/exit_codes.hpp"
#include "common/state.hpp"

namespace hakit::arbiter {

/// The local database as the tick sees it.
class LocalDb {
 public:
  virtual ~LocalDb() = default;
  /// Reads @@global.read_only.
  virtual bool read_only(bool* on, std::string* err) = 0;
  /// Sets the server read-only (super_read_only too on MySQL).
  virtual bool fence(std::string* err) = 0;
};

/// What one tick decided.
struct TickResult {
  State state = State::kOk;
  std::string summary;      ///< one line for the operator (without the "ARBITER OK - " prefix)
  bool fenced = false;      ///< this tick set the database read-only
  Json journal;             ///< an entry to journal (null when the tick is routine)
};

/// One tick. `promoter_alive`: the notify_master that put the record in kPromoting still runs.
/// The record in `keeper` is updated; the caller persists it.
TickResult keep_tick(LeaseKeeper& keeper, LocalDb& db, const config::Arbiter& arbiter,
                     bool promoter_alive);

}  // namespace hakit::arbiter
