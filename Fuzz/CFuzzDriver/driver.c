// Only the declaration in include/CFuzzDriver.h is needed; libFuzzer itself
// is linked by `-sanitize=fuzzer`.
#include "CFuzzDriver.h"
