# frozen_string_literal: true

require "digest"

module TaskerMetrics
  module Rack
    # Optional authentication for the metrics endpoint: a bearer token, HTTP basic credentials,
    # or a callable given the Rack env. Secrets are compared in constant time (over SHA-256
    # digests, so their length does not leak either).
    class Auth
      # @param config [nil, Hash, #call] +nil+, +{bearer_token: "t"}+, +{basic: ["user", "pass"]}+,
      #   or a callable returning true to allow
      # @raise [ArgumentError] for any other configuration
      def initialize(config)
        @check, @challenge = build(config)
      end

      # Whether the request may scrape. A callable that raises denies; the error is logged, never
      # shown to the client.
      # @return [Boolean]
      def allow?(env)
        @check.call(env) ? true : false
      rescue StandardError => e
        TaskerMetrics.log(:error, "tasker_metrics: the auth callable raised #{e.class}: #{e.message}; request denied")
        false
      end

      # @return [String, nil] the WWW-Authenticate header for a 401; nil for a callable, which
      #   names no scheme (it is answered with 403)
      attr_reader :challenge

      private

      def build(config)
        case config
        in nil then [->(_env) { true }, nil]
        in { bearer_token: String => token }
          present!(token, "bearer_token")
          [->(env) { bearer(env, token) }, 'Bearer realm="metrics"']
        in { basic: [String => user, String => pass] }
          present!(user, "basic user")
          present!(pass, "basic password")
          [->(env) { basic(env, user, pass) }, 'Basic realm="metrics", charset="UTF-8"']
        else [callable!(config), nil]
        end
      end

      def callable!(config)
        return config if config.respond_to?(:call)

        raise ArgumentError,
              "auth must be nil, {bearer_token: String}, {basic: [user, pass]} or respond to #call, got: #{config.inspect[0, 60]}"
      end

      # Empty credentials are refused: they are what an unset environment variable gives.
      def present!(secret, what)
        return secret unless secret.strip.empty?

        raise ArgumentError, "auth #{what} is empty (an unset environment variable?): refusing to protect metrics with it"
      end

      def bearer(env, token)
        scheme, given = credentials(env)
        scheme == "bearer" && same?(given, token)
      end

      def basic(env, user, pass)
        scheme, given = credentials(env)
        return false unless scheme == "basic" && given

        decoded = given.unpack1("m0")
        given_user, given_pass = decoded.split(":", 2)
        # Both halves are always compared, so timing does not reveal which one was wrong.
        [same?(given_user, user), same?(given_pass, pass)].all?
      rescue ArgumentError
        false
      end

      # The scheme is case-insensitive (RFC 7235); the credentials are not.
      def credentials(env)
        header = env["HTTP_AUTHORIZATION"].to_s
        scheme, value = header.split(" ", 2)
        [scheme&.downcase, value&.strip]
      end

      # Constant time over equal-length digests; no dependency on the rack gem, so the core
      # gem loads without it.
      def same?(given, expected)
        return false if given.nil?

        a = Digest::SHA256.digest(given).bytes
        b = Digest::SHA256.digest(expected).bytes
        a.zip(b).reduce(0) { |diff, (x, y)| diff | (x ^ y) }.zero?
      end
    end
  end
end
