#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "nodus/http_routing.h"
#include "nodus/services/http.h"

namespace nodus {
namespace {

using ::testing::HasSubstr;

HttpRoute make_route(std::string method, std::string pattern, std::string owner = "p") {
  HttpRoute r;
  r.method = std::move(method);
  r.pattern = std::move(pattern);
  r.owner = std::move(owner);
  r.handler = [](const HttpRequest&, HttpResponder res) { res.respond(HttpResponse()); };
  return r;
}

// Goal: parameters match one non-empty segment and come back decoded; a literal segment wins
// over a parameter; other paths are 404.
TEST(HttpRouteTableTest, MatchesParametersAndPrefersLiterals) {
  HttpRouteTable t;
  ASSERT_TRUE(t.add(make_route("GET", "/v1/tx/{id}")).ok());
  ASSERT_TRUE(t.add(make_route("GET", "/v1/tx/latest")).ok());
  ASSERT_TRUE(t.add(make_route("GET", "/v1/{kind}/{id}/raw")).ok());
  HttpRouteMatch m = t.match("GET", "/v1/tx/a%2Fb");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.route->route().pattern, "/v1/tx/{id}");
  EXPECT_EQ(m.params.at("id"), "a/b");
  EXPECT_EQ(t.match("GET", "/v1/tx/latest").route->route().pattern, "/v1/tx/latest");
  m = t.match("HEAD", "/v1/acct/7/raw");  // HEAD is served by GET
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.params.at("kind"), "acct");
  EXPECT_EQ(m.params.at("id"), "7");
  EXPECT_EQ(t.match("GET", "/v1/tx/").status, 404);  // empty segment
  EXPECT_EQ(t.match("GET", "/v1/tx").status, 404);
  EXPECT_EQ(t.match("GET", "/v1/tx/1/2").status, 404);
}

// Goal: a path that exists under other methods is 405 with those methods in Allow.
TEST(HttpRouteTableTest, OtherMethodIs405WithAllow) {
  HttpRouteTable t;
  ASSERT_TRUE(t.add(make_route("GET", "/x")).ok());
  ASSERT_TRUE(t.add(make_route("PUT", "/x")).ok());
  HttpRouteMatch m = t.match("DELETE", "/x");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.allow, "GET, HEAD, PUT");
}

// Goal: the same method and shape is ALREADY_EXISTS naming both routes and the owner, whatever
// the parameter names; malformed routes are INVALID_ARGUMENT naming the route.
TEST(HttpRouteTableTest, RefusesDuplicatesAndBadPatterns) {
  HttpRouteTable t;
  ASSERT_TRUE(t.add(make_route("GET", "/v1/tx/{id}", "ledger")).ok());
  Status dup = t.add(make_route("GET", "/v1/tx/{key}", "other"));
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(dup.message(), HasSubstr("route GET /v1/tx/{key} is already registered"));
  EXPECT_THAT(dup.message(), HasSubstr("GET /v1/tx/{id} by ledger"));
  EXPECT_TRUE(t.add(make_route("POST", "/v1/tx/{id}")).ok());  // another method is fine
  for (const auto& [method, pattern] :
       std::vector<std::pair<std::string, std::string>>{{"get", "/a"},
                                                        {"GET", "a"},
                                                        {"GET", "/a/{"},
                                                        {"GET", "/a/x{id}"},
                                                        {"GET", "/{a}/{a}"},
                                                        {"HEAD", "/a"},
                                                        {"GET", "/a?b"}}) {
    Status st = t.add(make_route(method, pattern));
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << method << " " << pattern;
    EXPECT_THAT(st.message(), HasSubstr("route " + method + " " + pattern));
  }
}

// Goal: removal is by owner; a removed entry says so (a request matched before must not run).
TEST(HttpRouteTableTest, RemoveByOwner) {
  HttpRouteTable t;
  ASSERT_TRUE(t.add(make_route("GET", "/a", "one")).ok());
  ASSERT_TRUE(t.add(make_route("GET", "/b", "one")).ok());
  ASSERT_TRUE(t.add(make_route("GET", "/c", "two")).ok());
  auto matched = t.match("GET", "/a").route;
  EXPECT_EQ(t.remove("GET", "/c", "one").code(), StatusCode::kNotFound);
  EXPECT_EQ(t.remove_owner("one"), 2u);
  EXPECT_TRUE(matched->removed());
  EXPECT_EQ(t.match("GET", "/a").status, 404);
  EXPECT_EQ(t.size(), 1u);
  ASSERT_TRUE(t.remove("GET", "/c", "two").ok());
  EXPECT_EQ(t.size(), 0u);
}

// Goal: the table is bounded: past kRoutesMax, RESOURCE_EXHAUSTED naming the route.
TEST(HttpRouteTableTest, BoundedAtRoutesMax) {
  HttpRouteTable t;
  for (size_t i = 0; i < HttpRouteTable::kRoutesMax; ++i)
    ASSERT_TRUE(t.add(make_route("GET", "/r" + std::to_string(i))).ok());
  Status st = t.add(make_route("GET", "/one-more"));
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(st.message(), HasSubstr("/one-more"));
}

// Goal: targets split into path and decoded query parameters; non-paths are refused.
TEST(HttpTargetTest, ParsesQuery) {
  HttpRequest r;
  ASSERT_TRUE(parse_http_target("/a/b?x=1&y=a+b%21&flag&x=2", r).ok());
  EXPECT_EQ(r.path, "/a/b");
  EXPECT_EQ(r.query_param("x"), "2");
  EXPECT_EQ(r.query_param("y"), "a b!");
  EXPECT_EQ(r.query_param("flag", "absent"), "");
  EXPECT_EQ(r.query_param("z", "absent"), "absent");
  EXPECT_EQ(parse_http_target("http://host/a", r).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(http_percent_decode("%zz%4"), "%zz%4");  // malformed escapes stay
}

// Goal: headers are found in any case.
TEST(HttpRequestTest, HeaderLookupIgnoresCase) {
  HttpRequest r;
  r.headers = {{"content-type", "application/json"}};
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.header("Accept"), "");
}

// Goal: a responder answers once (copies share it), and one dropped unanswered answers 500.
TEST(HttpResponderTest, AnswersOnceAndDroppedIs500) {
  int calls = 0;
  std::optional<HttpResponse> got;
  {
    HttpResponder a([&](HttpResponse r) {
      ++calls;
      got = std::move(r);
    });
    HttpResponder b = a;
    b.respond(HttpResponse::text(201, "made"));
    a.respond(HttpResponse::text(202, "again"));
    EXPECT_TRUE(a.responded());
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got->status, 201);
  {
    HttpResponder dropped([&](HttpResponse r) { got = std::move(r); });
  }
  EXPECT_EQ(got->status, 500);
  EXPECT_THAT(got->body, HasSubstr("without answering"));
  EXPECT_EQ(HttpResponse::error(404, "no \"x\"").body, R"({"error":"no \"x\""})");
}

}  // namespace
}  // namespace nodus
