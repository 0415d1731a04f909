// A guard in front of GDCM, for DICOMs from strangers. GDCM sizes a data
// element's buffer from the 32-bit length the file declares and zero-fills it
// (a 200-byte file can make it allocate and touch 4 GiB), and Debian's GDCM
// keeps its asserts, which abort the process on malformed meta groups and
// pixel descriptions. PrecheckDicom walks every data element (file meta group;
// explicit or implicit VR, little or big endian; nested sequences and items,
// defined or undefined length; encapsulated pixel data fragments) and fails,
// naming the tag and offset, when a declared length does not fit in what is
// left of the file, a VR is not one of PS3.5's, the file has no data set, or
// the Image Pixel module describes what GDCM asserts on or we cannot decode
// (samples per pixel not 1, 3 or 4; bits allocated not 8 or 16; bits stored
// or high bit beyond it; more than kMaxDecodedPixels pixels). Deflated data
// sets are checked up to their start. Found by tests/fuzz/dicom_fuzz. Torch-free.
#ifndef CHEXWORLD_DATA_DICOM_PRECHECK_H_
#define CHEXWORLD_DATA_DICOM_PRECHECK_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace chexworld {

absl::Status PrecheckDicom(absl::string_view bytes, const std::string& name);

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_DICOM_PRECHECK_H_
