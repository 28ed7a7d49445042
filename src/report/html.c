/* html.c: report.html (stub while the charts are written). */
#include "report/report_internal.h"

sl_status report_write_html(const report_set *set, const char *out_dir, sl_error *err) {
  (void)set;
  (void)out_dir;
  (void)err;
  return SL_OK;
}
