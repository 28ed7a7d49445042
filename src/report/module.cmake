# The report's web assets, inlined into the binary at build time: uPlot (npm,
# pinned in src/report/web/package-lock.json, installed by scripts/setup.sh with
# `npm ci`) and the report's own script and style (src/report/web/report.{js,css}).
# Output: generated/report/report_assets.{c,h} in the build tree (not in git).
set(report_web ${PROJECT_SOURCE_DIR}/src/report/web)
set(report_uplot ${report_web}/node_modules/uplot/dist)
if(NOT EXISTS ${report_uplot}/uPlot.iife.min.js)
  message(FATAL_ERROR "uPlot is not installed in ${report_web}/node_modules: run scripts/setup.sh "
                      "(it runs `npm ci` there; Node.js and npm are needed at build time only)")
endif()
set(report_assets
  "uplot_js=${report_uplot}/uPlot.iife.min.js"
  "uplot_css=${report_uplot}/uPlot.min.css"
  "app_js=${report_web}/report.js"
  "app_css=${report_web}/report.css")
set(report_out ${PROJECT_BINARY_DIR}/generated/report)
add_custom_command(
  OUTPUT ${report_out}/report_assets.c ${report_out}/report_assets.h
  COMMAND ${CMAKE_COMMAND} -DOUT_DIR=${report_out} "-DASSETS=${report_assets}" -P ${report_web}/embed.cmake
  DEPENDS ${report_web}/embed.cmake ${report_uplot}/uPlot.iife.min.js ${report_uplot}/uPlot.min.css
          ${report_web}/report.js ${report_web}/report.css ${report_web}/package-lock.json
  COMMENT "embedding the report's web assets (uPlot, report.js, report.css)"
  VERBATIM)
target_sources(spanlab_report PRIVATE ${report_out}/report_assets.c ${report_out}/report_assets.h)
target_include_directories(spanlab_report PRIVATE ${report_out})
set_source_files_properties(${report_out}/report_assets.c PROPERTIES COMPILE_OPTIONS "-w")
