// SVG written through libxml2's XML writer (xmlTextWriter): elements are
// opened and closed by the writer, attribute values and text are escaped by
// it, and text is made valid UTF-8 without control characters first, so every
// document is well-formed XML by construction (figures_test parses each one
// back with libxml2's parser). Torch-free.
//
//   SvgWriter w;
//   w.Open("svg", {{"xmlns", "http://www.w3.org/2000/svg"}, {"width", "300"}, {"height", "200"}});
//   w.Leaf("rect", {{"width", "100%"}, {"height", "100%"}, {"fill", "#ffffff"}});
//   w.Text("text", {{"x", "10"}, {"y", "20"}}, "AUROC & AUPRC");
//   std::string svg = w.Finish();
#ifndef CHEXWORLD_EVAL_SVG_WRITER_H_
#define CHEXWORLD_EVAL_SVG_WRITER_H_

#include <string>
#include <utility>
#include <vector>

namespace chexworld {

using Attributes = std::vector<std::pair<std::string, std::string>>;

class SvgWriter {
 public:
  SvgWriter();
  ~SvgWriter();
  SvgWriter(const SvgWriter&) = delete;
  SvgWriter& operator=(const SvgWriter&) = delete;

  // <name attributes...> ... until the matching Close().
  void Open(const std::string& name, const Attributes& attributes = {});
  void Close();
  // <name attributes.../>
  void Leaf(const std::string& name, const Attributes& attributes);
  // <name attributes...>text</name>
  void Text(const std::string& name, const Attributes& attributes, const std::string& text);
  // Closes what is open and returns the document (no XML declaration, so it
  // can be inlined into HTML as well as saved as a .svg file).
  std::string Finish();

 private:
  void Attribute(const std::string& name, const std::string& value);
  struct Impl;
  Impl* impl_;
};

// `text` as valid XML character data: invalid UTF-8 becomes U+FFFD, control
// characters other than tab and newline are dropped.
std::string XmlCharacters(const std::string& text);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_SVG_WRITER_H_
