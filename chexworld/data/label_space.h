// The canonical chest X-ray label space: TorchXRayVision's 18 default
// pathologies (the NIH ChestX-ray14 findings plus the CheXpert/MIMIC ones),
// and the names the public datasets use for them. It lets a probe fit on one
// dataset be tested on another for the findings they share: evaluations with
// EvalData.label_space = "canonical" map every dataset's labels here first.
//
// Several source labels naming one finding (VinDr's "Rib fracture" and
// "Clavicle fracture" -> Fracture) combine as an OR: positive if any is,
// negative if all known ones are, unknown (NaN) otherwise. Labels with no
// canonical finding ("No Finding", "Support Devices", "Nodule/Mass", ...) are
// dropped. The table per dataset is in datasets/README.md. Torch-free.
#ifndef CHEXWORLD_DATA_LABEL_SPACE_H_
#define CHEXWORLD_DATA_LABEL_SPACE_H_

#include <string>
#include <vector>

namespace chexworld {

const std::vector<std::string>& CanonicalPathologies();

// The canonical finding a dataset label names ("Pleural Effusion" ->
// "Effusion"; case, spaces and underscores do not matter); "" when none.
std::string CanonicalLabel(const std::string& name);

// Maps one image's labels (names[i] -> values[i], NaN unknown) into the
// canonical findings present in `names`; `out_names` gets those findings in
// canonical order.
void ToCanonical(const std::vector<std::string>& names, const std::vector<float>& values,
                 std::vector<std::string>* out_names, std::vector<float>* out_values);

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_LABEL_SPACE_H_
