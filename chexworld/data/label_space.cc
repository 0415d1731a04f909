#include "chexworld/data/label_space.h"

#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"

namespace chexworld {
namespace {

std::string Key(const std::string& s) {
  return absl::AsciiStrToLower(absl::StrReplaceAll(absl::StripAsciiWhitespace(s), {{"_", " "}, {"-", " "}}));
}

const std::map<std::string, std::string>& Synonyms() {
  static const auto* m = [] {
    auto* out = new std::map<std::string, std::string>;
    for (const auto& c : CanonicalPathologies()) (*out)[Key(c)] = c;  // every canonical name is its own synonym
    const std::pair<const char*, const char*> extra[] = {
        {"Pleural Effusion", "Effusion"},        // CheXpert, MIMIC, VinDr
        {"Pleural thickening", "Pleural_Thickening"},
        {"Pulmonary fibrosis", "Fibrosis"},      // VinDr
        {"Infiltrate", "Infiltration"},
        {"Rib fracture", "Fracture"},            // VinDr
        {"Clavicle fracture", "Fracture"},       // VinDr
        {"Opacity", "Lung Opacity"},             // the built-in phantom
        {"pneumothorax", "Pneumothorax"},        // SIIM-ACR
        {"pneumonia", "Pneumonia"},              // RSNA binary
        {"nodule", "Nodule"},                    // JSRT
    };
    for (const auto& [from, to] : extra) (*out)[Key(from)] = to;
    return out;
  }();
  return *m;
}

}  // namespace

const std::vector<std::string>& CanonicalPathologies() {
  static const auto* v = new std::vector<std::string>{
      "Atelectasis", "Consolidation", "Infiltration", "Pneumothorax", "Edema", "Emphysema",
      "Fibrosis", "Effusion", "Pneumonia", "Pleural_Thickening", "Cardiomegaly", "Nodule",
      "Mass", "Hernia", "Lung Lesion", "Fracture", "Lung Opacity", "Enlarged Cardiomediastinum"};
  return *v;
}

std::string CanonicalLabel(const std::string& name) {
  auto it = Synonyms().find(Key(name));
  return it == Synonyms().end() ? "" : it->second;
}

void ToCanonical(const std::vector<std::string>& names, const std::vector<float>& values,
                 std::vector<std::string>* out_names, std::vector<float>* out_values) {
  out_names->clear();
  out_values->clear();
  for (const auto& c : CanonicalPathologies()) {
    bool present = false, any_positive = false, any_unknown = false;
    for (size_t i = 0; i < names.size(); ++i) {
      if (CanonicalLabel(names[i]) != c) continue;
      present = true;
      const float v = i < values.size() ? values[i] : std::nanf("");
      if (std::isnan(v)) any_unknown = true;
      else if (v > 0.5f) any_positive = true;
    }
    if (!present) continue;
    out_names->push_back(c);
    out_values->push_back(any_positive ? 1.0f : any_unknown ? std::nanf("") : 0.0f);
  }
}

}  // namespace chexworld
