// The single translation unit that compiles Asio and Beast (BOOST_*_SEPARATE_COMPILATION is
// set for the whole build), so other files only pay for the declarations.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
