#pragma once
// read_only on and off, shared by mysql_promote/mysql_demote and the arbiter's self-fence.
#include <string>

namespace hakit::notify {

class Db;
struct Dialect;

/// SET GLOBAL read_only (and super_read_only first on MySQL, where it exists).
bool set_read_only(Db& db, const Dialect& dialect, bool on, std::string* err);

}  // namespace hakit::notify
