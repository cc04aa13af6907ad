import pytest

from nnlab import registry
from nnlab.errors import RegistryError


def test_build_from_name_and_mapping_without_mutating_spec():
    spec = {"name": "leaky_relu", "alpha": 0.1}
    act = registry.build("activation", spec)
    assert act.alpha == 0.1
    assert spec == {"name": "leaky_relu", "alpha": 0.1}
    assert registry.build("activation", "relu").registry_name == "relu"


def test_aliases_resolve_to_the_same_class():
    assert type(registry.build("activation", "logistic")) is type(registry.build("activation", "sigmoid"))


def test_unknown_name_suggests_the_closest_and_lists_choices():
    with pytest.raises(RegistryError) as e:
        registry.build("activation", "relux")
    assert "did you mean 'relu'" in str(e.value)
    assert "tanh" in str(e.value)


def test_unknown_argument_names_it_and_the_accepted_ones():
    with pytest.raises(RegistryError) as e:
        registry.build("activation", {"name": "leaky_relu", "alpah": 0.1})
    assert "'alpah'" in str(e.value) and "alpha" in str(e.value)


def test_ill_typed_argument_is_refused():
    with pytest.raises(RegistryError, match="'alpha' must be float"):
        registry.build("activation", {"name": "leaky_relu", "alpha": "big"})
    with pytest.raises(RegistryError, match="nesterov"):
        registry.build("optimizer", {"name": "sgd", "nesterov": "yes"})


def test_component_value_errors_become_registry_errors():
    with pytest.raises(RegistryError, match="momentum"):
        registry.build("optimizer", {"name": "sgd", "momentum": 1.5})


def test_user_components_can_be_registered_and_used():
    from nnlab.components.activations import Activation

    @registry.register("activation", "test_cube_act")
    class Cube(Activation):
        """φ(z) = z³."""

        def forward(self, z, out=None):
            return z**3

        def backward(self, z, a, grad_a, out=None):
            return grad_a * 3 * z**2

    assert "test_cube_act" in registry.names("activation")
    assert registry.build("activation", "test_cube_act").forward(2.0) == 8.0
    with pytest.raises(ValueError, match="already registered"):
        registry.register("activation", "test_cube_act")(type("Other", (), {}))
    registry.registry("activation").unregister("test_cube_act")
    assert "test_cube_act" not in registry.names("activation")


def test_unknown_kind():
    with pytest.raises(RegistryError, match="did you mean 'activation'"):
        registry.names("activations")
