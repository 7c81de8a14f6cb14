// The single translation unit that compiles Beast (BOOST_BEAST_SEPARATE_COMPILATION is set for
// the whole build), so other files only pay for the declarations. Asio is compiled once in
// src/core/asio_impl.cpp.
#include <boost/beast/src.hpp>
