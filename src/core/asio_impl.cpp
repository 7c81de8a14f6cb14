// The single translation unit that compiles Asio (BOOST_ASIO_SEPARATE_COMPILATION is set for
// the whole build). It lives in core because both http and redis run on Asio.
#include <boost/asio/impl/src.hpp>
