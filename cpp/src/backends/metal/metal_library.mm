// Kernel libraries: the builtin families from metallic.metallib (precompiled) or from the
// installed .metal sources (compiled at run time), and user MSL compiled from a string.

#include <dlfcn.h>

#include <fstream>
#include <sstream>

#include "metal_internal.h"
#include "metallic/error.hpp"

#ifndef METALLIC_KERNELS_SOURCE
#define METALLIC_KERNELS_SOURCE 0  // CMake: 1 when METALLIC_KERNELS=source
#endif
#ifndef METALLIC_BUILD_METALLIB
#define METALLIC_BUILD_METALLIB ""  // CMake: the metallib in the build tree
#endif
#ifndef METALLIC_BUILD_METAL_DIR
#define METALLIC_BUILD_METAL_DIR ""  // CMake: the repository's metal/ directory
#endif

namespace metallic::metal {
namespace {

bool file_exists(const std::string& path) {
  return !path.empty() && [[NSFileManager defaultManager] fileExistsAtPath:to_ns(path)];
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw KernelCompileError("cannot read kernel source " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string parent_dir(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

// The directory of the binary holding this code: the Python extension module (installed beside
// metallic.metallib and kernels/) or a benchmark executable.
std::string module_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&module_dir), &info) && info.dli_fname) {
    return parent_dir(info.dli_fname);
  }
  return {};
}

// newLibraryWithSource: compiles one string and has no include path, so `#include "x"` is
// resolved here: against the including file's directory, then `dirs`. Each file is inlined
// once, between #line markers, so compiler messages name the .metal file and line. A file not
// found is left to the compiler, which then reports it at the right line.
void append_source(const std::string& label, const std::string& text,
                   const std::vector<std::string>& dirs, std::set<std::string>& seen,
                   std::string& out) {
  out += "#line 1 \"" + label + "\"\n";
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    size_t p = line.find_first_not_of(" \t");
    std::string name;
    if (p != std::string::npos && line[p] == '#') {
      p = line.find_first_not_of(" \t", p + 1);
      if (p != std::string::npos && line.compare(p, 7, "include") == 0) {
        size_t open = line.find('"', p + 7), close = std::string::npos;
        if (open != std::string::npos) close = line.find('"', open + 1);
        if (close != std::string::npos) name = line.substr(open + 1, close - open - 1);
      }
    }
    std::string found;
    if (!name.empty()) {
      std::vector<std::string> candidates{parent_dir(label)};
      candidates.insert(candidates.end(), dirs.begin(), dirs.end());
      if (name[0] == '/') candidates = {""};
      for (const std::string& dir : candidates) {
        if (dir.empty() && name[0] != '/') continue;  // never the working directory
        std::string path = dir.empty() ? name : dir + "/" + name;
        if (file_exists(path)) {
          found = to_std([to_ns(path) stringByStandardizingPath]);
          break;
        }
      }
    }
    if (found.empty()) {
      out += line + "\n";
      continue;
    }
    if (seen.insert(found).second) append_source(found, read_file(found), dirs, seen, out);
    out += "#line " + std::to_string(number + 1) + " \"" + label + "\"\n";
  }
}

id<MTLLibrary> compile(DeviceState& state, const std::string& name, const std::string& source) {
  MTLCompileOptions* options = [[MTLCompileOptions alloc] init];
  // Same language and math as the precompiled metallib (-std=metal3.1 -fno-fast-math): the
  // host device emulates precise metal:: math, and kernels opt into metal::fast explicitly.
  // From macOS 15 fastMathEnabled is replaced by two settings: mathMode (no reassociation or
  // finite-math assumptions) and mathFloatingPointFunctions, which decides what the plain
  // metal:: functions (sin, exp, ...) are; its default is Fast, so it must be set too.
  options.languageVersion = MTLLanguageVersion3_1;
#if defined(__MAC_15_0) && __MAC_OS_X_VERSION_MAX_ALLOWED >= __MAC_15_0
  if (@available(macOS 15.0, *)) {
    options.languageVersion = MTLLanguageVersion3_2;
    options.mathMode = MTLMathModeSafe;
    options.mathFloatingPointFunctions = MTLMathFloatingPointFunctionsPrecise;
  } else
#endif
  {
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
    options.fastMathEnabled = NO;
#pragma clang diagnostic pop
  }
  NSError* error = nil;
  id<MTLLibrary> library = [state.device newLibraryWithSource:to_ns(source)
                                                      options:options
                                                        error:&error];
  if (!library) {
    throw KernelCompileError("Metal library '" + name + "' does not compile:\n" +
                             error_text(error, "(the compiler gave no message)"));
  }
  return library;
}

// Where builtin sources come from in source mode: METALLIC_KERNEL_SOURCE_DIR, the installed
// kernels/ beside the module, or the repository's metal/ directory (build tree).
std::string kernel_source_dir() {
  std::vector<std::string> tried;
  for (std::string dir : {env("METALLIC_KERNEL_SOURCE_DIR"), module_dir() + "/kernels",
                          std::string(METALLIC_BUILD_METAL_DIR)}) {
    if (dir.empty()) continue;
    if (file_exists(dir)) return dir;
    tried.push_back(dir);
  }
  std::string message = "cannot find the kernel sources (looked in:";
  for (const std::string& t : tried) message += " " + t;
  throw DeviceError(message + "); set METALLIC_KERNEL_SOURCE_DIR to the repository's metal/");
}

// One builtin family compiled from source: metal/<family>/metal.sources (paths relative to the
// repository root, so "metal/common/x.metal" maps to <dir>/common/x.metal) or kernel.metal.
id<MTLLibrary> compile_builtin_family(DeviceState& state, const std::string& family) {
  std::string dir = kernel_source_dir();
  std::vector<std::string> files;
  std::string list = dir + "/" + family + "/metal.sources";
  if (file_exists(list)) {
    std::istringstream lines(read_file(list));
    for (std::string line; std::getline(lines, line);) {
      size_t b = line.find_first_not_of(" \t\r"), e = line.find_last_not_of(" \t\r");
      if (b == std::string::npos || line[b] == '#') continue;
      std::string path = line.substr(b, e - b + 1);
      if (path.compare(0, 6, "metal/") == 0) path = path.substr(6);
      files.push_back(dir + "/" + path);
    }
  } else {
    files.push_back(dir + "/" + family + "/kernel.metal");
  }
  std::set<std::string> seen;
  std::string source;
  for (const std::string& file : files) {
    if (!file_exists(file)) {
      throw KernelCompileError("kernel family '" + family + "': missing source " + file);
    }
    seen.insert(file);
    append_source(file, read_file(file), {dir}, seen, source);
  }
  return compile(state, family, source);
}

// The precompiled metallib: METALLIC_METALLIB, beside the module, or in the build tree.
id<MTLLibrary> load_metallib(DeviceState& state) {
  if (state.builtin_metallib) return state.builtin_metallib;
  std::string explicit_path = env("METALLIC_METALLIB");
  std::vector<std::string> candidates;
  if (!explicit_path.empty()) {
    candidates = {explicit_path};
  } else {
    candidates = {module_dir() + "/metallic.metallib", std::string(METALLIC_BUILD_METALLIB)};
  }
  std::string tried;
  for (const std::string& path : candidates) {
    if (!file_exists(path)) {
      tried += " " + path;
      continue;
    }
    NSError* error = nil;
    NSURL* url = [NSURL fileURLWithPath:to_ns(path)];
    state.builtin_metallib = [state.device newLibraryWithURL:url error:&error];
    if (!state.builtin_metallib) {
      throw DeviceError("cannot load " + path + ": " + error_text(error));
    }
    return state.builtin_metallib;
  }
  throw DeviceError("cannot find metallic.metallib (looked in:" + tried +
                    "); rebuild, set METALLIC_METALLIB=<path>, or build with "
                    "-DMETALLIC_KERNELS=source");
}

}  // namespace

MetalLibrary::MetalLibrary(std::string name, id<MTLLibrary> library)
    : name_(std::move(name)), library_(library) {
  for (NSString* fn in library.functionNames) names_.insert(to_std(fn));
}

std::vector<std::string> MetalLibrary::function_names() const {
  return {names_.begin(), names_.end()};
}

LibraryPtr load_metal_library(DeviceState& state, const LibrarySource& source) {
  @autoreleasepool {
    if (source.kind == LibrarySource::Kind::Source) {
      std::set<std::string> seen;
      std::string text;
      append_source(source.name, source.source, source.include_dirs, seen, text);
      return std::make_shared<MetalLibrary>(source.name, compile(state, source.name, text));
    }
    bool from_source = !env("METALLIC_KERNEL_SOURCE_DIR").empty() ||
                       (METALLIC_KERNELS_SOURCE && env("METALLIC_METALLIB").empty());
    if (from_source) {
      return std::make_shared<MetalLibrary>(source.name,
                                            compile_builtin_family(state, source.name));
    }
    // Kernel names are unique across families, so one MTLLibrary serves them all; its function
    // list is therefore that of every builtin family.
    return std::make_shared<MetalLibrary>(source.name, load_metallib(state));
  }
}

}  // namespace metallic::metal
