// SSTable physical format: block handles, the footer, block trailers and
// compression, reading blocks back from a file, and the properties codec.
#include "sst_format.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "cairn/util/coding.h"
#include "gtest/gtest.h"

namespace cairn::storage {
namespace {

TEST(BlockHandleTest, RoundTrips) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{300}, uint64_t{1} << 40,
                     ~uint64_t{0}}) {
    BlockHandle h{v, v / 3};
    std::string enc;
    h.EncodeTo(&enc);
    EXPECT_LE(enc.size(), BlockHandle::kMaxEncodedLength);
    std::string_view in = enc;
    BlockHandle out;
    ASSERT_TRUE(out.DecodeFrom(&in));
    EXPECT_TRUE(in.empty());
    EXPECT_EQ(out.offset, h.offset);
    EXPECT_EQ(out.size, h.size);
    std::string_view cut(enc.data(), enc.size() - 1);
    EXPECT_FALSE(out.DecodeFrom(&cut));
  }
}

std::string EncodedFooter() {
  Footer f;
  f.metaindex = BlockHandle{123456789, 4321};
  f.index = BlockHandle{~uint64_t{0} >> 1, 99999};
  std::string enc;
  f.EncodeTo(&enc);
  return enc;
}

TEST(FooterTest, RoundTrips) {
  const std::string enc = EncodedFooter();
  ASSERT_EQ(enc.size(), Footer::kEncodedLength);
  EXPECT_EQ(enc.substr(enc.size() - 8), "CAIRNSST");
  Footer f;
  ASSERT_TRUE(f.DecodeFrom(enc).ok());
  EXPECT_EQ(f.metaindex.offset, 123456789u);
  EXPECT_EQ(f.metaindex.size, 4321u);
  EXPECT_EQ(f.index.offset, ~uint64_t{0} >> 1);
  EXPECT_EQ(f.index.size, 99999u);
}

TEST(FooterTest, EveryFlippedByteIsDataLoss) {
  const std::string good = EncodedFooter();
  for (size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[i] ^= static_cast<char>(1 << bit);
      Footer f;
      EXPECT_TRUE(absl::IsDataLoss(f.DecodeFrom(bad))) << i << "." << bit;
    }
  }
  Footer f;
  EXPECT_TRUE(absl::IsDataLoss(f.DecodeFrom(good.substr(1))));
}

std::string Compressible(size_t n) {
  std::string s;
  while (s.size() < n) s += "cairn key value database block ";
  s.resize(n);
  return s;
}

std::string Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

class CompressionTest : public ::testing::TestWithParam<CompressionType> {};

TEST_P(CompressionTest, RoundTripsAndSkipsIncompressible) {
  BlockCompressor compressor(GetParam(), 3);
  for (size_t n :
       {size_t{0}, size_t{1}, size_t{100}, size_t{4096}, size_t{1} << 20}) {
    const std::string raw = Compressible(n);
    std::string_view stored;
    const uint8_t type = compressor.Compress(raw, &stored);
    if (GetParam() == CompressionType::kNone || n < 100) {
      EXPECT_EQ(type, 0);
    } else {
      EXPECT_EQ(type, static_cast<uint8_t>(GetParam()));
      EXPECT_LT(stored.size(), raw.size() - raw.size() / 8);
    }
    absl::StatusOr<std::string> back = UncompressBlock(type, stored);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, raw);
  }
  const std::string noise = Random(4096, 1);
  std::string_view stored;
  EXPECT_EQ(compressor.Compress(noise, &stored), 0);
  EXPECT_EQ(stored, noise);
}

TEST_P(CompressionTest, DamagedPayloadIsDataLoss) {
  if (GetParam() == CompressionType::kNone) return;
  BlockCompressor compressor(GetParam(), 3);
  const std::string raw = Compressible(8192);
  std::string_view stored;
  const uint8_t type = compressor.Compress(raw, &stored);
  const std::string good(stored);
  std::mt19937 rng(5);
  for (int round = 0; round < 500; ++round) {
    std::string bad = good;
    if (round % 3 == 0) {
      bad.resize(rng() % bad.size());
    } else {
      bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    absl::StatusOr<std::string> out = UncompressBlock(type, bad);
    // Damage the codec cannot see is what the CRC is for; it must never
    // crash or claim a different size.
    if (out.ok()) {
      EXPECT_EQ(out->size(), raw.size());
    }
  }
  std::string lying_size;
  PutVarint64(&lying_size, uint64_t{1} << 40);
  lying_size += good;
  EXPECT_TRUE(absl::IsDataLoss(
      UncompressBlock(static_cast<uint8_t>(CompressionType::kLZ4), lying_size)
          .status()));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, CompressionTest,
                         ::testing::Values(CompressionType::kNone,
                                           CompressionType::kLZ4,
                                           CompressionType::kZstd));

TEST(UncompressBlockTest, UnknownTypeIsDataLoss) {
  EXPECT_TRUE(absl::IsDataLoss(UncompressBlock(3, "abc").status()));
  EXPECT_TRUE(absl::IsDataLoss(UncompressBlock(0xff, "").status()));
}

class ReadBlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cairn-sst-format-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/blocks";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes the given raw blocks (compressed as asked) and returns handles.
  std::vector<BlockHandle> Write(const std::vector<std::string>& raws,
                                 CompressionType type) {
    BlockCompressor compressor(type, 1);
    std::vector<BlockHandle> handles;
    contents_.clear();
    for (const std::string& raw : raws) {
      std::string_view stored;
      const uint8_t t = compressor.Compress(raw, &stored);
      handles.push_back(BlockHandle{contents_.size(), stored.size()});
      contents_.append(stored);
      AppendBlockTrailer(stored, t, &contents_);
    }
    Rewrite();
    return handles;
  }
  void Rewrite() {
    OpenOptions o;
    o.create = o.truncate = true;
    auto file = FileSystem::Default()->Open(path_, o);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append(contents_).ok());
  }
  std::unique_ptr<File> OpenForRead() {
    OpenOptions o;
    o.read_only = true;
    auto file = FileSystem::Default()->Open(path_, o);
    EXPECT_TRUE(file.ok());
    return file.ok() ? *std::move(file) : nullptr;
  }

  std::string dir_, path_, contents_;
};

TEST_F(ReadBlockTest, ReadsEveryCompressionType) {
  const std::vector<std::string> raws = {Compressible(5000), "", "x",
                                         Random(3000, 2)};
  for (CompressionType type : {CompressionType::kNone, CompressionType::kLZ4,
                               CompressionType::kZstd}) {
    std::vector<BlockHandle> handles = Write(raws, type);
    auto file = OpenForRead();
    for (size_t i = 0; i < raws.size(); ++i) {
      absl::StatusOr<std::string> got =
          ReadBlock(*file, contents_.size(), handles[i]);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(*got, raws[i]);
    }
  }
}

TEST_F(ReadBlockTest, ChecksumMismatchNamesFileAndOffset) {
  std::vector<BlockHandle> handles =
      Write({Compressible(1000), Compressible(2000)}, CompressionType::kLZ4);
  // Every byte of the second block and its trailer is covered.
  for (uint64_t pos = handles[1].offset; pos < contents_.size(); ++pos) {
    contents_[pos] ^= 0x20;
    Rewrite();
    auto file = OpenForRead();
    absl::StatusOr<std::string> got =
        ReadBlock(*file, contents_.size(), handles[1]);
    ASSERT_TRUE(absl::IsDataLoss(got.status())) << pos;
    EXPECT_NE(got.status().message().find(path_), std::string::npos);
    EXPECT_NE(got.status().message().find("offset " +
                                          std::to_string(handles[1].offset)),
              std::string::npos)
        << got.status();
    contents_[pos] ^= 0x20;
  }
}

TEST_F(ReadBlockTest, HandlesOutsideTheFileAreDataLoss) {
  std::vector<BlockHandle> handles = Write({"abc"}, CompressionType::kNone);
  auto file = OpenForRead();
  const uint64_t size = contents_.size();
  for (BlockHandle h :
       {BlockHandle{0, 4}, BlockHandle{1, 3}, BlockHandle{size, 0},
        BlockHandle{~uint64_t{0}, 1}, BlockHandle{0, ~uint64_t{0}}}) {
    EXPECT_TRUE(absl::IsDataLoss(ReadBlock(*file, size, h).status()));
  }
  // A file shorter than the caller believes.
  EXPECT_TRUE(absl::IsDataLoss(
      ReadBlock(*file, size + 10, BlockHandle{0, 13}).status()));
  EXPECT_TRUE(ReadBlock(*file, size, handles[0]).ok());
}

TEST(PropertiesCodecTest, RoundTripsEveryField) {
  TableProperties p;
  p.num_entries = 1;
  p.num_deletions = 2;
  p.num_range_deletions = 3;
  p.raw_key_bytes = 4;
  p.raw_value_bytes = 5;
  p.num_data_blocks = 6;
  p.data_bytes = 7;
  p.index_bytes = 8;
  p.filter_bytes = 9;
  p.smallest_key = std::string("a\0b", 3);
  p.largest_key = "zz";
  p.smallest_seq = 10;
  p.largest_seq = uint64_t{1} << 55;
  p.compression = 2;
  p.bloom_bits_per_key = 12;
  auto entries = EncodeProperties(p);
  TableProperties q;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(entries[i - 1].first, entries[i].first);
    }
    ASSERT_TRUE(DecodeProperty(entries[i].first, entries[i].second, &q).ok());
  }
  EXPECT_EQ(entries.size(), 15u);
  EXPECT_EQ(q.num_entries, 1u);
  EXPECT_EQ(q.num_deletions, 2u);
  EXPECT_EQ(q.num_range_deletions, 3u);
  EXPECT_EQ(q.raw_key_bytes, 4u);
  EXPECT_EQ(q.raw_value_bytes, 5u);
  EXPECT_EQ(q.num_data_blocks, 6u);
  EXPECT_EQ(q.data_bytes, 7u);
  EXPECT_EQ(q.index_bytes, 8u);
  EXPECT_EQ(q.filter_bytes, 9u);
  EXPECT_EQ(q.smallest_key, p.smallest_key);
  EXPECT_EQ(q.largest_key, "zz");
  EXPECT_EQ(q.smallest_seq, 10u);
  EXPECT_EQ(q.largest_seq, uint64_t{1} << 55);
  EXPECT_EQ(q.compression, 2);
  EXPECT_EQ(q.bloom_bits_per_key, 12);

  EXPECT_TRUE(DecodeProperty("cairn.unknown", "whatever", &q).ok());
  EXPECT_TRUE(absl::IsDataLoss(DecodeProperty("cairn.num_entries", "", &q)));
  EXPECT_TRUE(
      absl::IsDataLoss(DecodeProperty("cairn.num_entries", "\x01\x01", &q)));
}

}  // namespace
}  // namespace cairn::storage
