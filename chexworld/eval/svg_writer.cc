#include "chexworld/eval/svg_writer.h"

#include <libxml/xmlwriter.h>

#include <stdexcept>

namespace chexworld {
namespace {

const xmlChar* X(const std::string& s) { return reinterpret_cast<const xmlChar*>(s.c_str()); }

// Length of the UTF-8 sequence starting at s[i] (1-4), or 0 when invalid.
size_t Utf8Length(const std::string& s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

void Check(int rc, const char* what) {
  if (rc < 0) throw std::runtime_error(std::string("SVG writer: ") + what + " failed");
}

}  // namespace

std::string XmlCharacters(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = Utf8Length(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (n > 1 || c >= 0x20 || c == '\t' || c == '\n') out.append(text, i, n);
    i += n;
  }
  return out;
}

struct SvgWriter::Impl {
  xmlBufferPtr buffer = nullptr;
  xmlTextWriterPtr writer = nullptr;
};

SvgWriter::SvgWriter() : impl_(new Impl) {
  impl_->buffer = xmlBufferCreate();
  impl_->writer = xmlNewTextWriterMemory(impl_->buffer, 0);
  if (impl_->buffer == nullptr || impl_->writer == nullptr) throw std::runtime_error("SVG writer: out of memory");
  Check(xmlTextWriterSetIndent(impl_->writer, 1), "indent");
  Check(xmlTextWriterSetIndentString(impl_->writer, X("")), "indent string");
}

SvgWriter::~SvgWriter() {
  if (impl_->writer) xmlFreeTextWriter(impl_->writer);
  if (impl_->buffer) xmlBufferFree(impl_->buffer);
  delete impl_;
}

void SvgWriter::Attribute(const std::string& name, const std::string& value) {
  Check(xmlTextWriterWriteAttribute(impl_->writer, X(name), X(XmlCharacters(value))), "attribute");
}

void SvgWriter::Open(const std::string& name, const Attributes& attributes) {
  Check(xmlTextWriterStartElement(impl_->writer, X(name)), "element");
  for (const auto& [k, v] : attributes) Attribute(k, v);
}

void SvgWriter::Close() { Check(xmlTextWriterEndElement(impl_->writer), "end of element"); }

void SvgWriter::Leaf(const std::string& name, const Attributes& attributes) {
  Open(name, attributes);
  Close();
}

void SvgWriter::Text(const std::string& name, const Attributes& attributes, const std::string& text) {
  Open(name, attributes);
  Check(xmlTextWriterWriteString(impl_->writer, X(XmlCharacters(text))), "text");
  Check(xmlTextWriterFullEndElement(impl_->writer), "end of element");
}

std::string SvgWriter::Finish() {
  Check(xmlTextWriterEndDocument(impl_->writer), "end of document");  // closes what is open
  Check(xmlTextWriterFlush(impl_->writer), "flush");
  std::string out(reinterpret_cast<const char*>(xmlBufferContent(impl_->buffer)), xmlBufferLength(impl_->buffer));
  xmlFreeTextWriter(impl_->writer);
  impl_->writer = nullptr;
  return out;
}

}  // namespace chexworld
