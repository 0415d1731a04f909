// DICOM radiographs through GDCM (chosen over DCMTK because Debian's DCMTK
// cannot decode JPEG 2000, which CR/DX archives use; GDCM decodes
// uncompressed, JPEG baseline/lossless, JPEG-LS and JPEG 2000 via OpenJPEG,
// and reads files without the 128-byte preamble).
//
// Stored values -> modality values (Rescale Slope/Intercept) -> [0, 1] by, in
// order of preference: the first VOI LUT, the first Window Center/Width (the
// DICOM linear function, C.11.2.1.2), or the min..max of the modality values.
// MONOCHROME1 (white = low values) is inverted so 1 is always bright.
#ifndef CHEXWORLD_DATA_DICOM_H_
#define CHEXWORLD_DATA_DICOM_H_

#include <string>

#include "absl/status/statusor.h"
#include "chexworld/data/decode.h"

namespace chexworld {

absl::StatusOr<DecodedImage> DecodeDicomBytes(const std::string& bytes, const std::string& name);

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_DICOM_H_
