# frozen_string_literal: true

require "digest"

module TaskerMetrics
  module Rack
    # Optional authentication for the metrics endpoint: a bearer token, HTTP basic credentials,
    # or a callable given the Rack env. Credentials are read with Rack's own request classes and
    # compared with +Rack::Utils.secure_compare+ over SHA-256 digests, so neither their content
    # nor their length leaks through timing.
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
          rack!
          [->(env) { bearer(env, token) }, 'Bearer realm="metrics"']
        in { basic: [String => user, String => pass] }
          present!(user, "basic user")
          present!(pass, "basic password")
          rack!
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

      # Loaded only when a scheme is configured: without auth, configuring needs no rack gem.
      def rack!
        require "rack"
      rescue LoadError => e
        raise LoadError, "tasker_metrics: endpoint auth reads credentials with the rack gem, which is not installed (#{e.message})"
      end

      def bearer(env, token)
        request = ::Rack::Auth::AbstractRequest.new(env)
        # A header of the scheme alone has no token (Rack would read the scheme as one).
        request.provided? && request.parts.size == 2 && request.scheme == "bearer" && same?(request.params.strip, token)
      end

      def basic(env, user, pass)
        request = ::Rack::Auth::Basic::Request.new(env)
        return false unless request.provided? && request.basic?

        given_user, given_pass = request.credentials
        # Both halves are always compared, so timing does not reveal which one was wrong.
        [same?(given_user, user), same?(given_pass, pass)].all?
      rescue ArgumentError
        false
      end

      def same?(given, expected)
        return false if given.nil?

        ::Rack::Utils.secure_compare(Digest::SHA256.digest(given), Digest::SHA256.digest(expected))
      end
    end
  end
end
