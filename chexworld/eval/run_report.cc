#include "chexworld/eval/run_report.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/data/decode.h"
#include "chexworld/eval/figure.h"
#include "chexworld/eval/report_files.h"

namespace chexworld {
namespace {

std::string Escape(absl::string_view s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

// Inline markup: `code` and ![alt](file.png or file.svg).
std::string Inline(absl::string_view text, const std::string& base_dir) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text.substr(i, 2) == "![") {
      const size_t close = text.find("](", i);
      const size_t end = close == absl::string_view::npos ? close : text.find(')', close);
      if (end != absl::string_view::npos) {
        const std::string alt(text.substr(i + 2, close - i - 2)), file(text.substr(close + 2, end - close - 2));
        auto bytes = ReadFile(base_dir + "/" + file);
        if (bytes.ok() && absl::EndsWith(file, ".svg")) {
          // Inline, so its text is the page's text (searchable, selectable).
          absl::StrAppend(&out, "<figure class=\"chart\" aria-label=\"", Escape(alt), "\">", *bytes, "</figure>");
        } else if (bytes.ok()) {
          absl::StrAppend(&out, "<img alt=\"", Escape(alt), "\" src=\"data:image/png;base64,", absl::Base64Escape(*bytes),
                          "\">");
        } else {
          absl::StrAppend(&out, "<em>[missing image ", Escape(file), "]</em>");
        }
        i = end + 1;
        continue;
      }
    }
    if (text[i] == '`') {
      const size_t end = text.find('`', i + 1);
      if (end != absl::string_view::npos) {
        absl::StrAppend(&out, "<code>", Escape(text.substr(i + 1, end - i - 1)), "</code>");
        i = end + 1;
        continue;
      }
    }
    out += Escape(text.substr(i, 1));
    ++i;
  }
  return out;
}

std::vector<std::string> Cells(absl::string_view row) {
  absl::string_view r = absl::StripAsciiWhitespace(row);
  r = absl::StripPrefix(absl::StripSuffix(r, "|"), "|");
  std::vector<std::string> out;
  for (absl::string_view c : absl::StrSplit(r, '|')) out.emplace_back(absl::StripAsciiWhitespace(c));
  return out;
}

// "loss_12" -> "loss_12 (view 1 → 2)": which view's context predicts which
// view's targets (METHOD §5: the diagonal terms are local, the others global).
std::string LossLabel(const std::string& column) {
  if (column == "loss") return "loss (total)";
  if (column.size() == 7 && absl::StartsWith(column, "loss_") && absl::ascii_isdigit(column[5]) &&
      absl::ascii_isdigit(column[6])) {
    return absl::StrCat(column, " (view ", column.substr(5, 1), " \xE2\x86\x92 ", column.substr(6, 1), ")");
  }
  return column;
}

// The training loss (and its terms) against micro-batch, from metrics.csv:
// the total as a wide black line underneath, the terms as thin coloured lines
// on top of it (they run close to the total and would hide under it).
absl::StatusOr<std::string> LossCurve(const std::string& run_dir) {
  ASSIGN_OR_RETURN(std::string csv, ReadFile(run_dir + "/metrics.csv"));
  std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  if (lines.size() < 3) return absl::NotFoundError("too few metrics rows");
  std::vector<std::string> header = absl::StrSplit(lines[0], ',');
  Figure figure;
  figure.title = "Training loss";
  figure.panel_width = 620;
  figure.panel_height = 260;
  figure.caption = "Rows of metrics.csv; view i \xE2\x86\x92 j: view i's context predicts view j's target tokens.";
  Axes& axes = figure.AddPanel("", "micro-batch", "loss (MSE of predicted target features)");
  std::vector<int> cols;
  for (size_t c = 0; c < header.size(); ++c) {
    if (header[c] == "loss") {
      cols.push_back(static_cast<int>(c));
      axes.series.push_back(Series{LossLabel(header[c])});
      axes.series.back().black = true;
      axes.series.back().width = 3.2;
    }
  }
  for (size_t c = 0; c < header.size(); ++c) {
    if (header[c] != "loss" && absl::StartsWith(header[c], "loss_")) {
      cols.push_back(static_cast<int>(c));
      axes.series.push_back(Series{LossLabel(header[c])});
      axes.series.back().color = static_cast<int>(axes.series.size()) - 2;  // the palette from its first colour
      axes.series.back().width = 1.1;
    }
  }
  for (size_t r = 1; r < lines.size(); ++r) {
    std::vector<std::string> v = absl::StrSplit(lines[r], ',');
    double x = 0;
    if (v.size() != header.size() || !absl::SimpleAtod(v[0], &x)) continue;
    for (size_t k = 0; k < cols.size(); ++k) {
      double y = 0;
      if (absl::SimpleAtod(v[cols[k]], &y) && std::isfinite(y)) {
        axes.series[k].x.push_back(x);
        axes.series[k].y.push_back(y);
      }
    }
  }
  return RenderSvg(figure);
}

absl::Status WritePair(const std::string& dir, const std::string& title, const std::string& md) {
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/report.md", md));
  return WriteFileAtomically(dir + "/report.html", MarkdownToHtml(md, title, dir));
}

}  // namespace

std::string MarkdownToHtml(const std::string& markdown, const std::string& title, const std::string& base_dir) {
  std::string body;
  std::vector<std::string> lines = absl::StrSplit(markdown, '\n');
  std::string paragraph;
  auto flush = [&] {
    if (!paragraph.empty()) absl::StrAppend(&body, "<p>", Inline(paragraph, base_dir), "</p>\n");
    paragraph.clear();
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (absl::StartsWith(line, "```")) {
      flush();
      absl::StrAppend(&body, "<pre>");
      for (++i; i < lines.size() && !absl::StartsWith(lines[i], "```"); ++i) absl::StrAppend(&body, Escape(lines[i]), "\n");
      absl::StrAppend(&body, "</pre>\n");
      continue;
    }
    if (absl::StartsWith(line, "#")) {
      flush();
      size_t level = 0;
      while (level < line.size() && line[level] == '#') ++level;
      absl::StrAppend(&body, "<h", std::min<size_t>(level, 6), ">", Inline(absl::StripAsciiWhitespace(line.substr(level)), base_dir),
                      "</h", std::min<size_t>(level, 6), ">\n");
      continue;
    }
    if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(line), "|")) {
      flush();
      absl::StrAppend(&body, "<table>\n");
      bool header = i + 1 < lines.size() && absl::StrContains(lines[i + 1], "---");
      for (; i < lines.size() && absl::StartsWith(absl::StripLeadingAsciiWhitespace(lines[i]), "|"); ++i) {
        if (absl::StrContains(lines[i], "---") && absl::StrContains(lines[i], "|-")) continue;  // separator row
        absl::StrAppend(&body, "<tr>");
        for (const auto& c : Cells(lines[i])) {
          absl::StrAppend(&body, header ? "<th>" : "<td>", Inline(c, base_dir), header ? "</th>" : "</td>");
        }
        absl::StrAppend(&body, "</tr>\n");
        header = false;
      }
      --i;
      absl::StrAppend(&body, "</table>\n");
      continue;
    }
    if (absl::StripAsciiWhitespace(line).empty()) {
      flush();
      continue;
    }
    absl::StrAppend(&paragraph, paragraph.empty() ? "" : " ", line);
  }
  flush();
  return absl::StrCat(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>", Escape(title),
      "</title>\n<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
      "table{border-collapse:collapse;margin:1em 0;font-size:90%}td,th{border:1px solid #ccc;padding:3px 6px}"
      "th{background:#f2f2f2}pre{background:#f7f7f7;padding:1em;overflow:auto}img,figure.chart svg{max-width:100%;height:auto;display:block;"
      "margin:0.5em 0}figure.chart{margin:0}</style>\n</head><body>\n",
      body, "</body></html>\n");
}

absl::Status WriteRunReport(const std::string& run_dir) {
  std::string md = absl::StrCat("# Run report\n\nRun folder: `", run_dir, "`\n\n");
  if (auto summary = ReadFile(run_dir + "/summary.txt"); summary.ok()) {
    absl::StrAppend(&md, "## Pretraining\n\n| summary.txt field | value |\n|---|---|\n");
    for (const auto& [k, v] : KeyValues(*summary)) absl::StrAppend(&md, "| ", k, " | ", v, " |\n");
    if (auto svg = LossCurve(run_dir); svg.ok()) {
      RETURN_IF_ERROR(WriteFileAtomically(run_dir + "/training_loss.svg", *svg));
      absl::StrAppend(&md, "\n![training loss](training_loss.svg)\n\n");
    }
  }
  const std::vector<std::string> eval_files = ListDir(run_dir + "/eval");
  bool any_eval = false;
  for (const auto& f : eval_files) {
    if (!absl::EndsWith(f, ".md") || f == "results.md") continue;
    if (!any_eval) absl::StrAppend(&md, "## Evaluations\n\n");
    any_eval = true;
    const std::string stem = f.substr(0, f.size() - 3);
    ASSIGN_OR_RETURN(std::string text, ReadFile(run_dir + "/eval/" + f));
    // One level down: the evaluation's own "###" headings become "###" under "## Evaluations".
    absl::StrAppend(&md, text, "\n");
    for (const auto& figure : eval_files) {
      if (absl::StartsWith(figure, stem + "_") && absl::EndsWith(figure, ".svg")) {
        absl::StrAppend(&md, "![", figure, "](eval/", figure, ")\n\n");
      }
    }
  }
  if (auto analyses = ReadFile(run_dir + "/analyses.md"); analyses.ok()) {
    absl::StrAppend(&md, "## World-model analyses\n\n", *analyses, "\n");
    for (const auto& figure : ListDir(run_dir)) {
      if (absl::StartsWith(figure, "analysis_") && absl::EndsWith(figure, ".svg")) {
        absl::StrAppend(&md, "![", figure, "](", figure, ")\n\n");
      }
    }
  }
  if (auto config = ReadFile(run_dir + "/config.textproto"); config.ok()) {
    absl::StrAppend(&md, "## Configuration\n\n```\n", *config, "```\n");
  }
  return WritePair(run_dir, "chexworld run " + run_dir, md);
}

}  // namespace chexworld
