#include "common/config_sync.hpp"

namespace hakit::config {

void parse_sync_job(MapReader& e, SyncJob* out) {
  out->sources = e.strings("source");
  if (out->sources.empty()) e.error("source", "missing");
  out->dest = e.string("dest", out->dest);
  out->delete_extraneous = e.boolean("delete", out->delete_extraneous);
  out->max_delete = e.integer("max_delete", 0, 1'000'000'000);
  out->when = e.choice("when", out->when, {"any", "master", "backup"});
  out->after = e.strings("after");
  e.finish();
}

}  // namespace hakit::config
