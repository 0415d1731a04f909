#include "chexworld/eval/run_report.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <map>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

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

namespace chexworld {
namespace {

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

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

// "key: value" lines.
std::vector<std::pair<std::string, std::string>> KeyValues(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    out.emplace_back(std::string(absl::StripAsciiWhitespace(line.substr(0, colon))),
                     std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
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
// the terms in colour, the total in black on top of them.
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
    if (header[c] != "loss" && absl::StartsWith(header[c], "loss_")) {
      cols.push_back(static_cast<int>(c));
      axes.series.push_back(Series{LossLabel(header[c])});
      axes.series.back().width = 1.2;
    }
  }
  for (size_t c = 0; c < header.size(); ++c) {
    if (header[c] == "loss") {
      cols.push_back(static_cast<int>(c));
      axes.series.push_back(Series{LossLabel(header[c])});
      axes.series.back().black = true;
      axes.series.back().width = 2.4;
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

// A JSON file as a protobuf Struct (the reports' own JSON).
absl::StatusOr<google::protobuf::Struct> ReadJson(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  google::protobuf::Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(text, &s);
  if (!status.ok()) return absl::DataLossError(absl::StrCat(path, ": ", status.ToString()));
  return s;
}

const google::protobuf::Value* Field(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? nullptr : &it->second;
}

std::string IntervalCell(const google::protobuf::Value* v) {
  if (v == nullptr || !v->has_struct_value()) return "—";
  const auto& s = v->struct_value();
  auto num = [&](const char* k) {
    const auto* f = Field(s, k);
    return f != nullptr && f->has_number_value() ? f->number_value() : std::nan("");
  };
  return absl::StrFormat("%.3f [%.3f, %.3f]", num("value"), num("low"), num("high"));
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
  const std::vector<std::string> eval_files = List(run_dir + "/eval");
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
    for (const auto& figure : List(run_dir)) {
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

absl::Status WriteSweepReport(const std::string& sweep_dir, const std::vector<std::string>& variants) {
  std::string md = absl::StrCat("# Sweep report\n\nSweep folder: `", sweep_dir, "`\n\n");
  if (auto results = ReadFile(sweep_dir + "/results.md"); results.ok()) {
    absl::StrAppend(&md, absl::StripPrefix(*results, "# "), "\n");
  }
  // Per evaluation report name: every variant's encoders side by side.
  std::map<std::string, std::vector<std::string>> rows;  // report -> table rows
  for (const auto& v : variants) {
    for (const auto& f : List(sweep_dir + "/" + v + "/eval")) {
      if (!absl::EndsWith(f, ".json")) continue;
      auto json = ReadJson(sweep_dir + "/" + v + "/eval/" + f);
      if (!json.ok()) continue;
      const auto* encoders = Field(*json, "encoders");
      if (encoders == nullptr || !encoders->has_list_value()) continue;
      for (const auto& e : encoders->list_value().values()) {
        if (!e.has_struct_value()) continue;
        const auto& es = e.struct_value();
        const auto* name = Field(es, "name");
        const bool dice = Field(es, "mean_dice") != nullptr;
        rows[f.substr(0, f.size() - 5)].push_back(absl::StrCat(
            "| ", v, " | ", name != nullptr ? name->string_value() : "?", " | ",
            IntervalCell(Field(es, dice ? "mean_dice" : "mean_auroc")), " | ",
            IntervalCell(Field(es, dice ? "mean_iou" : "accuracy")), " |"));
      }
    }
  }
  for (const auto& [report, lines] : rows) {
    const bool dice = report.rfind("segmentation", 0) == 0;
    absl::StrAppend(&md, "## ", report, " across variants\n\n| variant | encoder | ", dice ? "mean Dice" : "mean AUROC",
                    " [95% CI] | ", dice ? "mean IoU" : "accuracy", " [95% CI] |\n|---|---|---|---|\n",
                    absl::StrJoin(lines, "\n"), "\n\n");
  }
  absl::StrAppend(&md, "## Variant reports\n\n");
  for (const auto& v : variants) {
    if (PathExists(sweep_dir + "/" + v + "/report.html")) absl::StrAppend(&md, "- `", v, "/report.html`\n");
  }
  return WritePair(sweep_dir, "chexworld sweep " + sweep_dir, md);
}

}  // namespace chexworld
