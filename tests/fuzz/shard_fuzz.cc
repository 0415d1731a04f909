// HDF5 radiograph shards, in two passes over one input:
//
// 1. The input as "<manifest>\n=====\n<shard bytes>": the manifest parser, and
//    the CRC check that must stop a file its manifest does not describe
//    before HDF5 reads it. (HDF5's own parser is not robust to corrupt
//    metadata: fuzzed raw files made HDF5 1.10.8 request 2^61-byte
//    allocations and leak; that is why shards are verified first.)
// 2. The same bytes as choices for a structurally valid HDF5 file written
//    through the HDF5 API, with attributes, shapes, element types, strings,
//    CRCs, masks and receipts each present, absent or inconsistent: what a
//    buggy writer or a stranger (who also writes the manifest) can hand us.
//    Every reader of ours must answer with an error, never a crash.
#include <hdf5.h>
#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "chexworld/data/shard.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using chexworld::FuzzInput;

void ReadAll(const chexworld::ShardedDataset& ds) {
  for (int64_t i = 0; i < std::min<int64_t>(ds.size(), 16); ++i) {
    chexworld::ShardSample s;
    if (ds.Read(i, &s).ok()) {
      if (s.image.pixels.size() != static_cast<size_t>(s.image.height) * s.image.width) __builtin_trap();
      if (s.labels.size() != ds.label_names().size()) __builtin_trap();
    }
  }
}

void IntAttr(hid_t loc, const char* name, int64_t v) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_INT64, &v);
  H5Aclose(a);
  H5Sclose(space);
}

void StringAttr(hid_t loc, const char* name, const std::string& v, bool variable) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, variable ? H5T_VARIABLE : v.size() + 1);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT);
  const char* p = v.c_str();
  H5Awrite(a, t, variable ? static_cast<const void*>(&p) : p);
  H5Aclose(a);
  H5Sclose(space);
  H5Tclose(t);
}

// A dataset of `type` with fuzzed dims (each near `want`), filled from the input.
void Array(FuzzInput& in, hid_t loc, const char* name, hid_t type, std::vector<hsize_t> want) {
  if (in.Byte() % 8 == 0) return;  // absent
  if (in.Byte() % 4 == 0) {
    if (want.empty()) want.push_back(1);
    want[in.Int(0, want.size() - 1)] = in.Int(0, 5);  // one dimension off
  }
  if (in.Byte() % 8 == 0) want.push_back(in.Int(1, 3));  // an extra dimension
  hsize_t total = 1;
  for (auto d : want) total *= d;
  if (total > (1 << 16)) return;
  hid_t space = H5Screate_simple(static_cast<int>(want.size()), want.data(), nullptr);
  hid_t ds = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<uint8_t> buf(total * H5Tget_size(type));
  for (auto& b : buf) b = in.Byte();
  if (ds >= 0 && total > 0) H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(space);
}

void Strings(FuzzInput& in, hid_t loc, const char* name, hsize_t n) {
  if (in.Byte() % 8 == 0) return;
  if (in.Byte() % 4 == 0) n = in.Int(0, 6);
  const bool variable = in.Byte() % 8 == 0;
  const size_t len = in.Int(1, 12);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, variable ? H5T_VARIABLE : len);
  hid_t space = H5Screate_simple(1, &n, nullptr);
  hid_t ds = H5Dcreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<std::string> values(n);
  for (auto& v : values) v = in.String(variable ? 12 : len);
  if (ds >= 0 && n > 0) {
    if (variable) {
      std::vector<const char*> p;
      for (auto& v : values) p.push_back(v.c_str());
      H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data());
    } else {
      std::vector<char> buf(n * len, 0);
      for (size_t i = 0; i < n; ++i) values[i].copy(&buf[i * len], std::min(len, values[i].size()));
      H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
    }
  }
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(space);
  H5Tclose(t);
}

hid_t PickType(FuzzInput& in, hid_t usual) {
  static const hid_t* kTypes[] = {&H5T_NATIVE_UINT8_g, &H5T_NATIVE_UINT16_g, &H5T_NATIVE_FLOAT_g, &H5T_NATIVE_INT32_g,
                                  &H5T_NATIVE_DOUBLE_g};
  const uint8_t b = in.Byte();
  return b % 4 == 0 ? *kTypes[(b / 4) % 5] : usual;
}

void Structured(FuzzInput& in) {
  const std::string path = chexworld::FuzzScratch() + "/structured.h5";
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) return;
  const hsize_t n = in.Int(0, 5), h = in.Int(1, 8), w = in.Int(1, 8), l = in.Int(0, 3), m = in.Int(0, 2);
  const bool u16 = in.Bool();
  if (in.Byte() % 8) StringAttr(f, "schema", in.Byte() % 8 ? "chexworld.radiograph_shard" : in.String(8), in.Byte() % 8 == 0);
  if (in.Byte() % 8) IntAttr(f, "schema_version", in.Byte() % 8 ? in.Int(1, 2) : in.Int(-2, 4));
  if (in.Byte() % 8) IntAttr(f, "height", in.Byte() % 8 ? h : in.Int(-3, 70000));
  if (in.Byte() % 8) IntAttr(f, "width", in.Byte() % 8 ? w : in.Int(-3, 70000));
  if (in.Byte() % 8) StringAttr(f, "pixel_type", u16 ? "uint16" : "uint8", false);
  // Images, with CRCs that match them when the input says so.
  std::vector<uint8_t> pixels(n * h * w * (u16 ? 2 : 1));
  for (auto& p : pixels) p = in.Byte();
  {
    hsize_t dims[3] = {n, h, w};
    hid_t type = PickType(in, u16 ? H5T_NATIVE_UINT16 : H5T_NATIVE_UINT8);
    if (in.Byte() % 4 == 0) dims[in.Int(0, 2)] = in.Int(0, 9);
    hid_t space = H5Screate_simple(3, dims, nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (in.Bool() && dims[0] > 0 && dims[1] > 0 && dims[2] > 0) {
      hsize_t chunk[3] = {1, dims[1], dims[2]};
      H5Pset_chunk(dcpl, 3, chunk);
      if (in.Bool()) H5Pset_fletcher32(dcpl);
      if (in.Bool()) H5Pset_deflate(dcpl, 1);
    }
    hid_t ds = H5Dcreate2(f, "images", type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    std::vector<uint8_t> buf(dims[0] * dims[1] * dims[2] * H5Tget_size(type));
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = i < pixels.size() ? pixels[i] : in.Byte();
    if (ds >= 0 && !buf.empty()) H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
  }
  {
    std::vector<uint32_t> crcs(n);
    const size_t per = h * w * (u16 ? 2 : 1);
    for (hsize_t i = 0; i < n; ++i) {
      crcs[i] = in.Byte() % 4 ? static_cast<uint32_t>(crc32(0, pixels.data() + i * per, per)) : in.Int(0, 1 << 30);
    }
    hsize_t cn = in.Byte() % 8 ? n : in.Int(0, 6);
    crcs.resize(cn);
    hid_t space = H5Screate_simple(1, &cn, nullptr);
    hid_t ds = H5Dcreate2(f, "crc32", PickType(in, H5T_NATIVE_UINT32), space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (ds >= 0 && cn > 0) H5Dwrite(ds, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, crcs.data());
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(space);
  }
  Strings(in, f, "ids", n);
  Strings(in, f, "patient_ids", n);
  Strings(in, f, "splits", n);  // schema version 2 (values outside train/val/test must be refused)
  Array(in, f, "labels", PickType(in, H5T_NATIVE_FLOAT), {n, l});
  Strings(in, f, "label_names", l);
  if (m > 0) Array(in, f, "masks", PickType(in, H5T_NATIVE_UINT8), {n, m, h, w});
  Strings(in, f, "mask_names", m);
  if (in.Byte() % 8) {
    hid_t g = H5Gcreate2(f, "receipts", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    Strings(in, g, "source_path", n);
    Array(in, g, "original_hw", PickType(in, H5T_NATIVE_INT32), {n, 2});
    Array(in, g, "bits_stored", PickType(in, H5T_NATIVE_INT32), {n});
    Strings(in, g, "photometric", n);
    Strings(in, g, "windowing", n);
    Array(in, g, "crop_box", PickType(in, H5T_NATIVE_INT32), {n, 4});
    Array(in, g, "content_box", PickType(in, H5T_NATIVE_INT32), {n, 4});
    H5Gclose(g);
  }
  H5Fclose(f);

  auto reader = chexworld::ShardReader::Open(path);
  if (!reader.ok()) return;
  const auto& schema = (*reader)->schema();
  for (int64_t i = -1; i <= std::min<int64_t>((*reader)->size(), 8); ++i) {
    chexworld::ShardSample s;
    if ((*reader)->Read(i, &s).ok()) {
      if (s.image.height != schema.height || s.image.width != schema.width) __builtin_trap();
      if (s.image.pixels.size() != static_cast<size_t>(schema.height) * schema.width) __builtin_trap();
      if (s.labels.size() != schema.label_names.size()) __builtin_trap();
      if (s.masks.size() != schema.mask_names.size() * schema.height * schema.width) __builtin_trap();
      if (!s.split.empty() && s.split != "train" && s.split != "val" && s.split != "test") __builtin_trap();
    }
    (*reader)->ReadReceipt(i).IgnoreError();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  std::string manifest, shard;
  chexworld::SplitInput(in, "\n=====\n", &manifest, &shard);
  chexworld::WriteScratch("shard-00000.h5", shard);
  const std::string manifest_path = chexworld::WriteScratch("manifest.textproto", manifest);
  if (auto ds = chexworld::ShardedDataset::Open(manifest_path); ds.ok()) ReadAll(**ds);
  FuzzInput choices(data, size);
  Structured(choices);
  return 0;
}
